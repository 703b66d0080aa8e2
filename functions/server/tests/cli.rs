//! The command-line contract other tools script against.

use std::process::Command;

fn crateyard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crateyard"))
        .args(args)
        .output()
        .expect("crateyard runs")
}

#[test]
fn cli_lists_its_commands() {
    let out = crateyard(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "token", "reindex"] {
        assert!(help.contains(command), "{help}");
    }
}

#[test]
fn token_create_prints_only_the_token() {
    let data = tempfile::tempdir().unwrap();
    let out = crateyard(&[
        "token",
        "create",
        "--user",
        "alice",
        "--data",
        data.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.strip_suffix('\n').expect("one line");
    assert!(
        token.starts_with("cyd_") && !token.contains(char::is_whitespace),
        "{stdout:?}"
    );
}

#[test]
fn token_create_rejects_a_bad_user_name() {
    let data = tempfile::tempdir().unwrap();
    let out = crateyard(&[
        "token",
        "create",
        "--user",
        "a b",
        "--data",
        data.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a valid user name"));
}
