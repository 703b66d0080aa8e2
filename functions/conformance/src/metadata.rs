use crateyard_core::{
    Actor, AuditAction, AuditEntry, AuditQuery, CrateRecord, CrateWrite, DownloadCount, Grant,
    IndexLine, MetadataStore, PackageInfo, Permission, ReindexBatch, ReindexJob, RepoKind,
    Repository, StoreError, Subject, TokenRecord, Upstream, User, VersionRecord, VersionWrite,
};

fn repo(name: &str) -> Repository {
    Repository {
        name: name.into(),
        kind: RepoKind::Local,
        anonymous_read: true,
        grants: vec![],
        upstream: None,
        members: vec![],
        default_member: None,
        created_at: "2026-01-01T00:00:00Z".into(),
        revision: 0,
        retention: None,
    }
}

fn krate(canonical: &str, revision: u64, description: &str) -> CrateRecord {
    CrateRecord {
        name: canonical.replace('_', "-"),
        canonical: canonical.into(),
        revision,
        max_version: "1.0.0".into(),
        description: Some(description.into()),
        keywords: vec![format!("kw-{canonical}")],
        owners: vec!["alice".into()],
        created_at: "2026-01-01T00:00:00Z".into(),
        updated_at: "2026-01-01T00:00:00Z".into(),
        deleted: vec![],
    }
}

fn version(name: &str, vers: &str, seq: u64) -> VersionRecord {
    VersionRecord {
        line: IndexLine {
            name: name.into(),
            vers: vers.into(),
            deps: vec![],
            cksum: "00".repeat(32),
            features: Default::default(),
            features2: None,
            yanked: false,
            links: None,
            rust_version: None,
            pubtime: None,
            v: None,
        },
        version_key: vers.into(),
        seq,
        package: PackageInfo::default(),
        size: 1,
        published_by: "alice".into(),
        has_readme: false,
        archived_at: None,
    }
}

fn insert(krate: CrateRecord, expected: Option<u64>, v: VersionRecord) -> CrateWrite {
    CrateWrite {
        krate,
        expected_revision: expected,
        repository_revision: None,
        version: Some(VersionWrite::Insert(v)),
        audit: None,
    }
}

pub async fn store_repositories(store: &dyn MetadataStore) {
    assert!(store.get_repository("main").await.unwrap().is_none());
    store.create_repository(&repo("main")).await.unwrap();
    let again = store.create_repository(&repo("main")).await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists(_))),
        "{again:?}"
    );
    store.create_repository(&repo("extra")).await.unwrap();
    assert_eq!(
        store.get_repository("main").await.unwrap(),
        Some(repo("main"))
    );
    let names: Vec<_> = store
        .list_repositories()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["extra", "main"]);

    let mut private = repo("main");
    private.anonymous_read = false;
    private.grants = vec![Grant {
        to: Subject::Group("devs".into()),
        permissions: vec![Permission::Read, Permission::PublishNew],
    }];
    private.kind = RepoKind::Remote;
    private.upstream = Some(Upstream {
        index_url: "https://index.crates.io/".into(),
        token: None,
        revalidate_secs: 600,
    });
    private.revision = 1;
    store.update_repository(&private).await.unwrap();
    assert_eq!(
        store.get_repository("main").await.unwrap(),
        Some(private.clone())
    );
    // An update made over a revision read before another's is refused.
    let mut stale = private.clone();
    stale.anonymous_read = true;
    assert!(matches!(
        store.update_repository(&stale).await,
        Err(StoreError::Conflict(_))
    ));
    stale.revision = 2;
    store.update_repository(&stale).await.unwrap();
    assert_eq!(
        store
            .get_repository("main")
            .await
            .unwrap()
            .unwrap()
            .revision,
        2
    );
    let mut nowhere = repo("nowhere");
    nowhere.revision = 1;
    assert!(matches!(
        store.update_repository(&nowhere).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn store_commit_is_conditional(store: &dyn MetadataStore) {
    store
        .commit(
            "r",
            insert(krate("foo", 1, "d"), None, version("foo", "1.0.0", 1)),
        )
        .await
        .unwrap();
    // The crate exists now: a second "new crate" commit must fail.
    let dup = store
        .commit(
            "r",
            insert(krate("foo", 1, "d"), None, version("foo", "2.0.0", 1)),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    // A stale revision fails.
    let stale = store
        .commit(
            "r",
            insert(krate("foo", 2, "d"), Some(0), version("foo", "2.0.0", 2)),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    // A taken version key fails, and changes nothing.
    let taken = store
        .commit(
            "r",
            insert(
                krate("foo", 2, "changed"),
                Some(1),
                version("foo", "1.0.0", 2),
            ),
        )
        .await;
    assert!(
        matches!(taken, Err(StoreError::AlreadyExists(_))),
        "{taken:?}"
    );
    assert_eq!(
        store.get_crate("r", "foo").await.unwrap(),
        Some(krate("foo", 1, "d"))
    );
    // Replacing a version that does not exist fails, and changes nothing.
    let replace = CrateWrite {
        krate: krate("foo", 2, "x"),
        expected_revision: Some(1),
        repository_revision: None,
        version: Some(VersionWrite::Replace(version("foo", "9.0.0", 1))),
        audit: None,
    };
    assert!(matches!(
        store.commit("r", replace).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.get_crate("r", "foo").await.unwrap().unwrap().revision,
        1
    );
    // Well-formed commits apply crate and version together.
    store
        .commit(
            "r",
            insert(krate("foo", 2, "d"), Some(1), version("foo", "2.0.0", 2)),
        )
        .await
        .unwrap();
    let mut yanked = version("foo", "1.0.0", 1);
    yanked.line.yanked = true;
    let yank = CrateWrite {
        krate: krate("foo", 3, "d"),
        expected_revision: Some(2),
        repository_revision: None,
        version: Some(VersionWrite::Replace(yanked)),
        audit: None,
    };
    store.commit("r", yank).await.unwrap();
    let owners = CrateWrite {
        krate: CrateRecord {
            owners: vec!["bob".into()],
            ..krate("foo", 4, "d")
        },
        expected_revision: Some(3),
        repository_revision: None,
        version: None,
        audit: None,
    };
    store.commit("r", owners).await.unwrap();
    let versions = store.list_versions("r", "foo").await.unwrap();
    let summary: Vec<_> = versions
        .iter()
        .map(|v| (v.line.vers.as_str(), v.seq, v.line.yanked))
        .collect();
    assert_eq!(summary, [("1.0.0", 1, true), ("2.0.0", 2, false)]);
    assert_eq!(
        store.get_crate("r", "foo").await.unwrap().unwrap().owners,
        ["bob"]
    );
    // Repositories are separate namespaces.
    assert!(store.get_crate("other", "foo").await.unwrap().is_none());
    assert!(
        store
            .list_versions("other", "foo")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Sixteen writers publish distinct versions of one crate at once, each
/// retrying on conflict as the publish service does: all must land, with
/// distinct, gap-free sequence numbers.
pub async fn store_commit_race(store: &dyn MetadataStore) {
    const WRITERS: u64 = 16;
    // A commit fails only when another succeeds: at most WRITERS attempts.
    let writer = |i: u64| async move {
        for _ in 0..WRITERS {
            let current = store.get_crate("r", "race").await.unwrap();
            let revision = current.as_ref().map_or(0, |k| k.revision);
            let write = insert(
                krate("race", revision + 1, "d"),
                current.map(|k| k.revision),
                version("race", &format!("1.0.{i}"), revision + 1),
            );
            match store.commit("r", write).await {
                Ok(()) => return,
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("writer {i} conflicted {WRITERS} times: no writer is winning");
    };
    futures::future::join_all((0..WRITERS).map(writer)).await;
    let versions = store.list_versions("r", "race").await.unwrap();
    let seqs: Vec<u64> = versions.iter().map(|v| v.seq).collect();
    assert_eq!(seqs, (1..=WRITERS).collect::<Vec<_>>());
    let mut names: Vec<_> = versions.iter().map(|v| v.line.vers.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len() as u64, WRITERS);
    assert_eq!(
        store
            .get_crate("r", "race")
            .await
            .unwrap()
            .unwrap()
            .revision,
        WRITERS
    );
}

/// The bulk read reindex uses: every crate of one repository, by canonical
/// name, each with its versions by `seq`, and nothing of another repository.
pub async fn store_crates_with_versions(store: &dyn MetadataStore) {
    assert!(
        store
            .list_crates_with_versions("r")
            .await
            .unwrap()
            .is_empty()
    );
    // Committed out of name order; `b` gets a later version first in key order.
    store
        .commit(
            "r",
            insert(krate("b", 1, "d"), None, version("b", "2.0.0", 1)),
        )
        .await
        .unwrap();
    store
        .commit(
            "r",
            insert(krate("b", 2, "d"), Some(1), version("b", "10.0.0", 2)),
        )
        .await
        .unwrap();
    store
        .commit(
            "r",
            insert(krate("a_x", 1, "d"), None, version("a-x", "1.0.0", 1)),
        )
        .await
        .unwrap();
    store
        .commit(
            "other",
            insert(krate("a", 1, "d"), None, version("a", "9.9.9", 1)),
        )
        .await
        .unwrap();
    // A crate item without versions (an owner change is the only way in
    // through the services, but the store must not lose it).
    store
        .commit(
            "r",
            CrateWrite {
                krate: krate("c", 1, "d"),
                expected_revision: None,
                repository_revision: None,
                version: None,
                audit: None,
            },
        )
        .await
        .unwrap();
    let all = store.list_crates_with_versions("r").await.unwrap();
    type Summary<'a> = (&'a str, u64, Vec<(&'a str, u64)>);
    let summary: Vec<Summary> = all
        .iter()
        .map(|c| {
            let versions = c
                .versions
                .iter()
                .map(|v| (v.line.vers.as_str(), v.seq))
                .collect();
            (c.krate.canonical.as_str(), c.krate.revision, versions)
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("a_x", 1, vec![("1.0.0", 1)]),
            ("b", 2, vec![("2.0.0", 1), ("10.0.0", 2)]),
            ("c", 1, vec![]),
        ]
    );
    // The same records as the one-crate reads.
    for c in &all {
        let canonical = &c.krate.canonical;
        assert_eq!(
            store.get_crate("r", canonical).await.unwrap().as_ref(),
            Some(&c.krate)
        );
        assert_eq!(
            store.list_versions("r", canonical).await.unwrap(),
            c.versions
        );
    }
}

pub async fn store_search(store: &dyn MetadataStore) {
    if !store.indexes_text() {
        // The registry keeps search shards for such a store instead.
        let refused = store.search("r", "json", 10).await;
        assert!(
            matches!(refused, Err(StoreError::Backend(_))),
            "{refused:?}"
        );
        return;
    }
    for (name, description) in [
        ("serde_json", "JSON support"),
        ("tokio", "async runtime"),
        ("json_tools", "tools"),
        ("other", "nothing"),
    ] {
        store
            .commit(
                "r",
                insert(krate(name, 1, description), None, version(name, "1.0.0", 1)),
            )
            .await
            .unwrap();
    }
    let (hits, total) = store.search("r", "json", 10).await.unwrap();
    let names: Vec<_> = hits.iter().map(|k| k.canonical.as_str()).collect();
    assert_eq!((names, total), (vec!["json_tools", "serde_json"], 2));
    let (hits, total) = store.search("r", "JSON", 1).await.unwrap();
    assert_eq!(
        (hits.len(), total),
        (1, 2),
        "the limit caps hits, not the total"
    );
    let (hits, _) = store.search("r", "Serde-JSON", 10).await.unwrap();
    assert_eq!(hits.len(), 1, "names match in canonical form");
    let (hits, _) = store.search("r", "ASYNC", 10).await.unwrap();
    assert_eq!(
        hits[0].canonical, "tokio",
        "descriptions match case-insensitively"
    );
    let (hits, _) = store.search("r", "KW-TOKIO", 10).await.unwrap();
    assert_eq!(
        hits.iter()
            .map(|k| k.canonical.as_str())
            .collect::<Vec<_>>(),
        ["tokio"],
        "keywords match case-insensitively"
    );
    assert_eq!(store.search("other-repo", "json", 10).await.unwrap().1, 0);
    assert_eq!(
        store.search("r", "%", 10).await.unwrap().1,
        0,
        "no wildcard syntax leaks through"
    );
    for query in [
        "\"",
        "json\" OR \"",
        "a*",
        "NEAR(x y)",
        "name : x",
        "jso\0n",
    ] {
        assert_eq!(
            store.search("r", query, 10).await.unwrap().1,
            0,
            "no query syntax leaks through: {query}"
        );
    }
    let (hits, _) = store.search("r", "js", 10).await.unwrap();
    assert_eq!(hits.len(), 2, "a query of two characters matches too");
    // A changed description is found by its new words only.
    let changed = krate("other", 2, "a YAML parser");
    store
        .commit(
            "r",
            CrateWrite {
                krate: changed,
                expected_revision: Some(1),
                repository_revision: None,
                version: None,
                audit: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(store.search("r", "yaml", 10).await.unwrap().1, 1);
    assert_eq!(store.search("r", "nothing", 10).await.unwrap().1, 0);
}

pub async fn store_users_and_tokens(store: &dyn MetadataStore) {
    let mut user = User {
        login: "alice".into(),
        admin: false,
        groups: vec![],
        created_at: "2026-01-01T00:00:00Z".into(),
    };
    assert!(store.get_user("alice").await.unwrap().is_none());
    assert!(matches!(
        store.update_user(&user).await,
        Err(StoreError::NotFound(_))
    ));
    store.create_user(&user).await.unwrap();
    assert!(matches!(
        store.create_user(&user).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.get_user("alice").await.unwrap(), Some(user.clone()));
    user.groups = vec!["devs".into()];
    user.admin = true;
    store.update_user(&user).await.unwrap();
    assert_eq!(store.get_user("alice").await.unwrap(), Some(user.clone()));
    let bob = User {
        login: "bob".into(),
        ..user.clone()
    };
    store.create_user(&bob).await.unwrap();
    assert_eq!(store.list_users().await.unwrap(), vec![user, bob]);

    let mut token = TokenRecord {
        name: "ci".into(),
        scopes: Some(vec![Permission::Read, Permission::Yank]),
        crates: vec!["serde-*".into()],
        repos: vec!["main".into()],
        expires_at: Some(1_900_000_000),
        ..TokenRecord::unrestricted(&"ab".repeat(32), "alice")
    };
    store.create_token(&token).await.unwrap();
    assert_eq!(
        store.get_token(&token.hash).await.unwrap(),
        Some(token.clone())
    );
    assert!(store.get_token(&"cd".repeat(32)).await.unwrap().is_none());
    token.last_used_at = Some(1_800_000_000);
    store.update_token(&token).await.unwrap();
    let other = TokenRecord::unrestricted(&"01".repeat(32), "bob");
    store.create_token(&other).await.unwrap();
    assert_eq!(
        store.list_tokens().await.unwrap(),
        vec![other.clone(), token.clone()]
    );
    store.delete_token(&token.hash).await.unwrap();
    assert!(store.get_token(&token.hash).await.unwrap().is_none());
    // A revoked token stays revoked: neither an update nor a second delete revives it.
    assert!(matches!(
        store.update_token(&token).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_token(&token.hash).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.list_tokens().await.unwrap(), vec![other]);
}

pub async fn store_reindex_jobs(store: &dyn MetadataStore) {
    let job = |id: &str, repo: &str| ReindexJob {
        id: id.into(),
        repo: repo.into(),
        requested_by: Some("alice".into()),
        started_at: "2026-12-02T00:00:00Z".into(),
        crates: None,
        batches: None,
    };
    let batch = |number: u32, failed: u64| ReindexBatch {
        number,
        crates: 500,
        failed,
        errors: (0..failed).map(|i| format!("c{i}: broken")).collect(),
        finished_at: format!("2026-12-02T00:00:0{number}Z"),
    };
    assert_eq!(store.latest_reindex_job("main").await.unwrap(), None);
    assert_eq!(store.get_reindex_job("main", "j1").await.unwrap(), None);

    store
        .put_reindex_job(&job("20261202-000000-aa", "main"))
        .await
        .unwrap();
    // A later job, one whose id starts with the first's, and another
    // repository's: none of them is the first job.
    store
        .put_reindex_job(&job("20261202-000000-aab", "main"))
        .await
        .unwrap();
    store
        .put_reindex_job(&job("20261203-000000-ff", "other"))
        .await
        .unwrap();
    let mut planned = job("20261202-000000-aa", "main");
    (planned.crates, planned.batches) = (Some(1000), Some(2));
    store.put_reindex_job(&planned).await.unwrap();
    // Batches in any order; one recorded twice (a task delivered twice).
    store
        .put_reindex_batch("main", &planned.id, &batch(2, 1))
        .await
        .unwrap();
    store
        .put_reindex_batch("main", &planned.id, &batch(1, 0))
        .await
        .unwrap();
    store
        .put_reindex_batch("main", &planned.id, &batch(1, 2))
        .await
        .unwrap();
    store
        .put_reindex_batch("main", "20261202-000000-aab", &batch(1, 0))
        .await
        .unwrap();

    let (read, batches) = store
        .get_reindex_job("main", &planned.id)
        .await
        .unwrap()
        .expect("the job");
    assert_eq!(read, planned);
    assert_eq!(batches, vec![batch(1, 2), batch(2, 1)]);
    assert_eq!(
        store.get_reindex_job("other", &planned.id).await.unwrap(),
        None
    );
    assert_eq!(
        store.latest_reindex_job("main").await.unwrap().as_deref(),
        Some("20261202-000000-aab")
    );
    assert_eq!(
        store.latest_reindex_job("other").await.unwrap().as_deref(),
        Some("20261203-000000-ff")
    );
}

/// An entry written at a given time (the id decides the day partition).
fn audit_at(at: &str, repo: &str, krate: Option<&str>) -> AuditEntry {
    let mut entry = AuditEntry::new(&Actor::operator(), AuditAction::Yank, "test");
    entry.id = format!("{at}-0000{}", repo.len());
    entry.at = at.into();
    entry.repo = Some(repo.into());
    entry.krate = krate.map(Into::into);
    entry.expires_at = 4_102_444_800; // 2100
    entry
}

fn ids(entries: &[AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| &e.at[..]).collect()
}

/// Newest first, across days, filtered by repository and crate, in pages
/// that resume where the last one stopped; a crate's commit writes its
/// entry atomically (none when the commit fails).
pub async fn store_audit_log(store: &dyn MetadataStore) {
    let today = time::OffsetDateTime::now_utc().date();
    let day = |back: i64| (today - time::Duration::days(back)).to_string();
    let written = [
        (format!("{}T10:00:00.000Z", day(3)), "main", Some("foo")),
        (format!("{}T09:00:00.000Z", day(1)), "other", Some("foo")),
        (format!("{}T23:59:59.999Z", day(1)), "main", Some("bar")),
        (format!("{}T00:00:00.001Z", day(0)), "main", Some("foo")),
        (format!("{}T00:00:00.002Z", day(0)), "main", None),
    ];
    for (at, repo, krate) in &written {
        store
            .append_audit(&audit_at(at, repo, *krate))
            .await
            .unwrap();
    }
    // The registry always bounds a query by the log's retention.
    let all = |limit| AuditQuery {
        limit,
        since: Some(time::OffsetDateTime::now_utc() - time::Duration::days(10)),
        ..Default::default()
    };
    let page = store.list_audit(&all(10)).await.unwrap();
    let newest_first: Vec<&str> = written.iter().rev().map(|(at, ..)| &at[..]).collect();
    assert_eq!(ids(&page.entries), newest_first);
    assert_eq!(page.next, None);

    // Pages of two, each resuming after the last.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list_audit(&AuditQuery { before, ..all(2) })
            .await
            .unwrap();
        assert!(page.entries.len() <= 2);
        seen.extend(page.entries.iter().map(|e| e.at.clone()));
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, newest_first);

    let filtered = AuditQuery {
        repo: Some("main".into()),
        krate: Some("foo".into()),
        ..all(10)
    };
    let page = store.list_audit(&filtered).await.unwrap();
    assert_eq!(ids(&page.entries), [&written[3].0[..], &written[0].0[..]]);

    let since = AuditQuery {
        since: Some(time::OffsetDateTime::now_utc() - time::Duration::days(2)),
        ..all(10)
    };
    let page = store.list_audit(&since).await.unwrap();
    assert_eq!(page.entries.len(), 4, "the entry of 3 days ago is older");

    // The entry rides on the commit: none for a commit that fails.
    let entry = |at: &str| AuditEntry {
        krate: Some("logged".into()),
        ..audit_at(at, "main", None)
    };
    let first = format!("{}T12:00:00.000Z", day(0));
    let mut write = insert(krate("logged", 1, "d"), None, version("logged", "1.0.0", 1));
    write.audit = Some(entry(&first));
    store.commit("main", write).await.unwrap();
    let mut conflict = insert(krate("logged", 1, "d"), None, version("logged", "1.1.0", 1));
    conflict.audit = Some(entry(&format!("{}T12:00:00.001Z", day(0))));
    assert!(store.commit("main", conflict).await.is_err());
    let logged = AuditQuery {
        krate: Some("logged".into()),
        ..all(10)
    };
    let page = store.list_audit(&logged).await.unwrap();
    assert_eq!(ids(&page.entries), [&first[..]]);
}

/// A version deleted with its crate's conditional write; deleting one that
/// is not there is `NotFound`, and changes nothing.
pub async fn store_version_delete(store: &dyn MetadataStore) {
    store.create_repository(&repo("r")).await.unwrap();
    let v1 = version("gone", "1.0.0", 1);
    store
        .commit("r", insert(krate("gone", 1, "d"), None, v1.clone()))
        .await
        .unwrap();
    store
        .commit(
            "r",
            insert(krate("gone", 2, "d"), Some(1), version("gone", "2.0.0", 2)),
        )
        .await
        .unwrap();
    let delete = |revision: u64, expected: u64, v: VersionRecord| CrateWrite {
        krate: krate("gone", revision, "d"),
        expected_revision: Some(expected),
        repository_revision: None,
        version: Some(VersionWrite::Delete(v)),
        audit: None,
    };
    store.commit("r", delete(3, 2, v1.clone())).await.unwrap();
    let left: Vec<String> = store
        .list_versions("r", "gone")
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.line.vers)
        .collect();
    assert_eq!(left, ["2.0.0"]);
    assert!(matches!(
        store.commit("r", delete(4, 3, v1)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store
            .get_crate("r", "gone")
            .await
            .unwrap()
            .unwrap()
            .revision,
        3
    );
}

/// A commit made on a repository revision fails once the repository has
/// changed (a publish decided who may write and what is private on it), and
/// writes nothing; one made on the current revision goes through.
pub async fn store_commit_checks_the_repository(store: &dyn MetadataStore) {
    store.create_repository(&repo("r")).await.unwrap();
    let publish = |revision: u64, on: u64, v: &str| CrateWrite {
        repository_revision: Some(on),
        ..insert(
            krate("checked", revision, "d"),
            revision.checked_sub(1).filter(|r| *r > 0),
            version("checked", v, revision),
        )
    };
    // A repository never changed is at revision 0.
    store.commit("r", publish(1, 0, "1.0.0")).await.unwrap();
    let mut changed = repo("r");
    changed.anonymous_read = false;
    changed.revision = 1;
    store.update_repository(&changed).await.unwrap();
    let stale = store.commit("r", publish(2, 0, "2.0.0")).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let crate_now = store.get_crate("r", "checked").await.unwrap().unwrap();
    assert_eq!(crate_now.revision, 1, "nothing written");
    assert_eq!(store.list_versions("r", "checked").await.unwrap().len(), 1);
    store.commit("r", publish(2, 1, "2.0.0")).await.unwrap();
    let missing = store.commit("gone", publish(1, 0, "1.0.0")).await;
    assert!(
        matches!(missing, Err(StoreError::Conflict(_))),
        "{missing:?}"
    );
}

/// Counts add up, concurrent adds included; a batch counts once however
/// often it is delivered, a large one (several transactions on DynamoDB)
/// included.
pub async fn store_download_counts(store: &dyn MetadataStore) {
    let count = |version: &str, day: String, n: u64| DownloadCount {
        repo: "r".into(),
        canonical: "foo".into(),
        version: version.into(),
        day,
        count: n,
    };
    let total = |counts: &[DownloadCount]| counts.iter().map(|c| c.count).sum::<u64>();
    let day1 = || "2026-12-01".to_string();
    let (two, three) = ([count("1.0.0", day1(), 2)], [count("1.0.0", day1(), 3)]);
    let (a, b) = tokio::join!(
        store.add_downloads(None, &two),
        store.add_downloads(None, &three),
    );
    assert!(a.unwrap() && b.unwrap());
    let counts = store.downloads("r", "foo").await.unwrap();
    assert_eq!(counts, [count("1.0.0", day1(), 5)]);

    // 150 days of 1.1.0 in one batch: two transactions on DynamoDB.
    let batch: Vec<DownloadCount> = (0..150)
        .map(|d| {
            count(
                "1.1.0",
                format!("2026-{:02}-{:02}", 1 + d / 28, 1 + d % 28),
                1,
            )
        })
        .collect();
    assert!(store.add_downloads(Some("log-1.gz"), &batch).await.unwrap());
    assert!(!store.add_downloads(Some("log-1.gz"), &batch).await.unwrap());
    let counts = store.downloads("r", "foo").await.unwrap();
    assert_eq!(total(&counts), 155);
    assert_eq!(counts.len(), 151);
    assert!(store.downloads("r", "bar").await.unwrap().is_empty());
}
