//! Reads through a virtual repository are reads of the member they come
//! from: its grants and the token's crate globs decide, for the caller at
//! hand, whatever the virtual repository's own visibility. A red team found
//! a public virtual repository serving a private member's index, crates,
//! search hits and owners to anyone.

use crateyard_e2e::{Server, crate_bytes};

struct World {
    server: Server,
    insider: String,
    insider_globbed: String,
    outsider: String,
}

impl World {
    /// `secret` (private, read by `insider` only) holds `hidden`; `main`
    /// (public) holds `open`. `pub-all` (public) and `priv-all` (private,
    /// readable by anyone with a token) both put `secret` first.
    fn new() -> Self {
        let server = Server::start();
        for user in ["insider", "outsider"] {
            server.admin_ok(&["user", "set", user]);
        }
        server.admin_ok(&["repo", "create", "secret", "--private"]);
        server.admin_ok(&[
            "repo",
            "set",
            "secret",
            "--grant",
            "authenticated=none",
            "user:insider=read,publish-new,publish-update",
        ]);
        let token = |args: &[&str]| server.token_with(args);
        let insider = token(&["--user", "insider"]);
        let insider_globbed = token(&["--user", "insider", "--crates", "open*"]);
        let outsider = token(&["--user", "outsider"]);
        let put = |repo: &str, name: &str, token: &str| {
            let res = server
                .http()
                .put(format!(
                    "{}/{repo}/crates/{name}/{name}-1.0.0.crate",
                    server.url
                ))
                .header("Authorization", token)
                .body(crate_bytes(name, "1.0.0", ""))
                .send()
                .unwrap();
            assert_eq!(res.status(), 201, "{name}: {}", res.text().unwrap());
        };
        put("secret", "hidden", &insider);
        put("main", "open", &server.token("publisher"));
        server.admin_ok(&[
            "repo",
            "create",
            "pub-all",
            "--kind",
            "virtual",
            "--members",
            "secret,main",
        ]);
        server.admin_ok(&[
            "repo",
            "create",
            "priv-all",
            "--kind",
            "virtual",
            "--members",
            "secret,main",
            "--private",
        ]);
        server.admin_ok(&["repo", "set", "priv-all", "--grant", "authenticated=read"]);
        Self {
            server,
            insider,
            insider_globbed,
            outsider,
        }
    }

    fn status(&self, path: &str, token: Option<&str>) -> u16 {
        let mut req = self
            .server
            .http()
            .get(format!("{}/{path}", self.server.url));
        if let Some(token) = token {
            req = req.header("Authorization", token);
        }
        req.send().unwrap().status().as_u16()
    }

    fn search(&self, repo: &str, token: Option<&str>) -> Vec<String> {
        let mut req = self
            .server
            .http()
            .get(format!("{}/{repo}/api/v1/crates?q=e", self.server.url));
        if let Some(token) = token {
            req = req.header("Authorization", token);
        }
        let res = req.send().unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().unwrap();
        let mut names: Vec<String> = body["crates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }

    /// Index file, download and owners of `hidden` through `repo`.
    fn hidden_reads(&self, repo: &str, token: Option<&str>) -> [u16; 3] {
        [
            self.status(&format!("{repo}/index/hi/dd/hidden"), token),
            self.status(&format!("{repo}/crates/hidden/hidden-1.0.0.crate"), token),
            self.status(&format!("{repo}/api/v1/crates/hidden/owners"), token),
        ]
    }
}

#[test]
fn a_public_virtual_repository_serves_no_private_member_to_anyone() {
    let w = World::new();
    // The member's own answers, for comparison.
    assert_eq!(w.status("secret/index/hi/dd/hidden", None), 401);
    let outsider = Some(w.outsider.as_str());
    assert_eq!(w.status("secret/index/hi/dd/hidden", outsider), 404);

    let [index, download, owners] = w.hidden_reads("pub-all", None);
    assert_eq!((index, download), (404, 404), "no private index or crate");
    assert!([401, 404].contains(&owners), "owners: {owners}");
    assert_eq!(w.search("pub-all", None), ["open"]);
    assert_eq!(w.status("pub-all/index/op/en/open", None), 200);
    assert_eq!(w.status("pub-all/crates/open/open-1.0.0.crate", None), 200);

    // A token without the member's grant sees no more than anonymous.
    let [index, download, owners] = w.hidden_reads("pub-all", outsider);
    assert_eq!((index, download, owners), (404, 404, 404));
    assert_eq!(w.search("pub-all", outsider), ["open"]);

    // The member's reader gets everything through it.
    let insider = Some(w.insider.as_str());
    assert_eq!(w.hidden_reads("pub-all", insider), [200, 200, 200]);
    assert_eq!(w.search("pub-all", insider), ["hidden", "open"]);

    // The public list of repositories names no private member.
    let list = w.server.get("ui/repositories.json").text().unwrap();
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let repos = list["repositories"].as_array().unwrap();
    let pub_all = repos.iter().find(|r| r["name"] == "pub-all").unwrap();
    assert_eq!(pub_all["members"], serde_json::json!(["main"]), "{list}");
    assert!(!list.to_string().contains("secret"), "{list}");
}

#[test]
fn a_private_virtual_repository_applies_member_grants_and_crate_globs() {
    let w = World::new();
    assert_eq!(w.hidden_reads("priv-all", None), [401, 401, 401]);

    let outsider = Some(w.outsider.as_str());
    assert_eq!(w.hidden_reads("priv-all", outsider), [404, 404, 404]);
    assert_eq!(w.search("priv-all", outsider), ["open"]);
    assert_eq!(w.status("priv-all/index/op/en/open", outsider), 200);

    // The member's grant applies, and so do the token's own crate globs.
    let insider = Some(w.insider.as_str());
    assert_eq!(w.hidden_reads("priv-all", insider), [200, 200, 200]);
    let globbed = Some(w.insider_globbed.as_str());
    assert_eq!(w.hidden_reads("priv-all", globbed), [404, 404, 404]);
    assert_eq!(w.search("priv-all", globbed), ["open"]);
    assert_eq!(w.status("priv-all/index/op/en/open", globbed), 200);
}

#[test]
fn virtual_and_remote_paths_that_name_no_valid_crate_are_not_found() {
    let w = World::new();
    for path in [
        "pub-all/index/x%5C..%5C..%5Csecret%5Cadmin.txt",
        "pub-all/index/hi/dd/Hidden",
        "pub-all/index/hi//hidden",
        "pub-all/index/%C3%A9%C3%A9/%C3%A9%C3%A9/%C3%A9%C3%A9%C3%A9%C3%A9",
        "pub-all/index/1/%C3%A9",
        "pub-all/crates/open/open-1.0.crate",
        "pub-all/crates/%C3%A9/%C3%A9-1.0.0.crate",
        "pub-all/crates/open/other-1.0.0.crate",
    ] {
        assert_eq!(w.status(path, None), 404, "{path}");
    }
    // The server is still up (a panic would have ended it).
    assert_eq!(w.status("pub-all/index/op/en/open", None), 200);
}
