/// The path of a crate's index file below `index/`, as cargo computes it:
/// `1/{n}`, `2/{n}`, `3/{c}/{n}` or `{ab}/{cd}/{n}`, all lowercase.
pub fn index_file_path(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    match name.len() {
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", &name[..1]),
        _ => format!("{}/{}/{name}", &name[..2], &name[2..4]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_file_path_shards_like_cargo() {
        assert_eq!(index_file_path("a"), "1/a");
        assert_eq!(index_file_path("ab"), "2/ab");
        assert_eq!(index_file_path("Abc"), "3/a/abc");
        assert_eq!(index_file_path("Serde_JSON"), "se/rd/serde_json");
    }
}
