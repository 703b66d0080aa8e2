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

/// Runs `crateyard` with `RUST_BACKTRACE=1`, as many Rust developers keep
/// it, and without a login name, as in a container.
fn crateyard_bare(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_crateyard"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("CRATEYARD_USER")
        .envs(env.iter().copied())
        .output()
        .expect("crateyard runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A sentence and a hint, and no backtrace (anyhow's would say so).
fn assert_user_error(stderr: &str, sentence: &str, hint: &str) {
    assert!(
        stderr.starts_with(&format!("error: {sentence}")),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("\nhint: {hint}")), "{stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
}

#[test]
fn token_create_without_user_works_without_a_login_name() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path().to_str().unwrap();
    let (ok, stderr) = crateyard_bare(&["token", "create", "--data", data], &[]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("for `you` (the default without $USER"),
        "{stderr}"
    );
    let (ok, stderr) = crateyard_bare(&["token", "create", "--data", data], &[("USER", "alice")]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("for `alice` (from $USER"), "{stderr}");
}

#[test]
fn an_empty_user_is_a_sentence_and_a_hint_without_backtrace() {
    let data = tempfile::tempdir().unwrap();
    // What `--user "$USER"` passes where USER is unset.
    let (ok, stderr) = crateyard_bare(
        &[
            "token",
            "create",
            "--user",
            "",
            "--data",
            data.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok);
    assert_user_error(
        &stderr,
        "`--user` is empty",
        "`--user \"$USER\"` passes nothing",
    );
}

#[test]
fn a_registry_refusal_is_a_sentence_and_a_hint_without_backtrace() {
    let data = tempfile::tempdir().unwrap();
    let (ok, stderr) = crateyard_bare(
        &[
            "token",
            "create",
            "--repo",
            "nope",
            "--data",
            data.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok);
    assert_user_error(
        &stderr,
        "repository `nope` does not exist",
        "`crateyard repo list` shows the repositories",
    );
}

#[test]
fn a_port_in_use_is_a_sentence_and_a_hint_without_backtrace() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let (ok, stderr) = crateyard_bare(
        &[
            "serve",
            "--addr",
            &addr,
            "--data",
            data.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok);
    assert_user_error(
        &stderr,
        &format!("cannot listen on {addr}: "),
        "another program listens there",
    );
    assert!(stderr.contains("--addr 127.0.0.1:"), "{stderr}");
}

#[test]
fn a_login_name_the_registry_refuses_says_where_it_came_from() {
    let data = tempfile::tempdir().unwrap();
    let (ok, stderr) = crateyard_bare(
        &["token", "create", "--data", data.path().to_str().unwrap()],
        &[("USER", "John Smith")],
    );
    assert!(!ok);
    assert_user_error(
        &stderr,
        "no --user given, so the name came from $USER: `John Smith` is not a valid user name",
        "give one with `--user NAME`",
    );
}
