use bytes::Bytes;
use crateyard_core::{
    BlobError, BlobStore, KeyPrefix, ObjectKey, ObjectMeta, Put, PutMode, PutOptions, RepoName,
};

fn options() -> PutOptions {
    PutOptions::default()
}

/// A key of the object layout (the store names nothing else).
fn key(key: &str) -> ObjectKey {
    ObjectKey::parse(key).expect("a key of the layout")
}

fn keys(keys: &[&str]) -> Vec<ObjectKey> {
    keys.iter().map(|k| key(k)).collect()
}

fn repository(name: &str) -> KeyPrefix {
    KeyPrefix::Repository(RepoName::new(name).expect("a valid repository name"))
}

pub async fn blob_create_only(store: &dyn BlobStore) {
    let key = &key("r/crates/a/a-1.0.0.crate");
    store
        .put(key, Bytes::from_static(b"one"), PutMode::Create, options())
        .await
        .unwrap();
    let second = store
        .put(key, Bytes::from_static(b"two"), PutMode::Create, options())
        .await;
    assert!(
        matches!(second, Err(BlobError::AlreadyExists(_))),
        "{second:?}"
    );
    let (body, meta) = store.get(key).await.unwrap().unwrap();
    assert_eq!(
        &body[..],
        b"one",
        "a refused create must not change the object"
    );
    assert_eq!(meta.size, 3);
}

pub async fn blob_update_compare_and_swap(store: &dyn BlobStore) {
    let key = &key("r/index/3/a/abc");
    let missing = store
        .put(
            key,
            Bytes::from_static(b"x"),
            PutMode::Update("\"nope\"".into()),
            options(),
        )
        .await;
    assert!(
        matches!(missing, Err(BlobError::Precondition(_))),
        "update of a missing object: {missing:?}"
    );
    let first = store
        .put(key, Bytes::from_static(b"v1"), PutMode::Create, options())
        .await
        .unwrap();
    let second = store
        .put(
            key,
            Bytes::from_static(b"v2"),
            PutMode::Update(first.etag.clone()),
            options(),
        )
        .await
        .unwrap();
    assert_ne!(first.etag, second.etag, "the ETag changes with the content");
    let stale = store
        .put(
            key,
            Bytes::from_static(b"v3"),
            PutMode::Update(first.etag),
            options(),
        )
        .await;
    assert!(
        matches!(stale, Err(BlobError::Precondition(_))),
        "{stale:?}"
    );
    let (body, meta) = store.get(key).await.unwrap().unwrap();
    assert_eq!((&body[..], meta.etag), (&b"v2"[..], second.etag));
    store
        .put(
            key,
            Bytes::from_static(b"v4"),
            PutMode::Overwrite,
            options(),
        )
        .await
        .unwrap();
    assert_eq!(&store.get(key).await.unwrap().unwrap().0[..], b"v4");
}

pub async fn blob_metadata_and_listing(store: &dyn BlobStore) {
    assert!(store.get(&key("r/index/1/a")).await.unwrap().is_none());
    assert!(store.head(&key("r/index/1/a")).await.unwrap().is_none());
    store
        .delete(&key("r/index/1/a"))
        .await
        .expect("deleting a missing object succeeds");
    let mut opts = options();
    opts.metadata.insert("crate-revision".into(), "7".into());
    store
        .put(
            &key("r/index/1/a"),
            Bytes::from_static(b"a"),
            PutMode::Overwrite,
            opts,
        )
        .await
        .unwrap();
    store
        .put(
            &key("r/index/1/b"),
            Bytes::from_static(b"b"),
            PutMode::Overwrite,
            options(),
        )
        .await
        .unwrap();
    store
        .put(
            &key("s/index/1/c"),
            Bytes::from_static(b"c"),
            PutMode::Overwrite,
            options(),
        )
        .await
        .unwrap();
    let head = store.head(&key("r/index/1/a")).await.unwrap().unwrap();
    assert_eq!(head.revision(), 7);
    assert_eq!(
        store
            .head(&key("r/index/1/b"))
            .await
            .unwrap()
            .unwrap()
            .revision(),
        0
    );
    assert_eq!(
        store.list(&repository("r")).await.unwrap(),
        keys(&["r/index/1/a", "r/index/1/b"])
    );
    store.delete(&key("r/index/1/a")).await.unwrap();
    assert!(store.get(&key("r/index/1/a")).await.unwrap().is_none());
    assert_eq!(
        store.list(&repository("r")).await.unwrap(),
        keys(&["r/index/1/b"])
    );
}

/// Eight writers each add ten to a counter by compare-and-swap: no update
/// may be lost.
pub async fn blob_cas_race(store: &dyn BlobStore) {
    const WRITERS: usize = 8;
    const INCREMENTS: usize = 10;
    let key = &key("r/index/co/un/counter");
    store
        .put(key, Bytes::from_static(b"0"), PutMode::Create, options())
        .await
        .unwrap();
    // A writer's swap fails only when another's succeeds: it cannot fail
    // more often than all the others' increments together.
    const MAX_ATTEMPTS: usize = WRITERS * INCREMENTS;
    let writer = || async {
        for _ in 0..INCREMENTS {
            let mut done = false;
            for _ in 0..MAX_ATTEMPTS {
                let (body, meta) = store.get(key).await.unwrap().unwrap();
                let n: usize = std::str::from_utf8(&body).unwrap().parse().unwrap();
                let next = Bytes::from((n + 1).to_string());
                match store
                    .put(key, next, PutMode::Update(meta.etag), options())
                    .await
                {
                    Ok(_) => {
                        done = true;
                        break;
                    }
                    Err(BlobError::Precondition(_)) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
            assert!(
                done,
                "a swap failed {MAX_ATTEMPTS} times in a row: no writer is winning"
            );
        }
    };
    let writers: Vec<_> = (0..WRITERS).map(|_| writer()).collect();
    futures::future::join_all(writers).await;
    let (body, _) = store.get(key).await.unwrap().unwrap();
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        (WRITERS * INCREMENTS).to_string()
    );
}

/// A conditional delete removes the object it names by ETag and nothing
/// that replaced it; a missing object is already deleted.
pub async fn blob_conditional_delete(store: &dyn BlobStore) {
    let key = &key("r/crates/d/d-1.0.0.crate");
    store
        .delete_if(key, "\"0123\"")
        .await
        .expect("a missing object is already deleted");
    let first = store
        .put(key, Bytes::from_static(b"one"), PutMode::Create, options())
        .await
        .unwrap();
    let second = store
        .put(
            key,
            Bytes::from_static(b"two"),
            PutMode::Overwrite,
            options(),
        )
        .await
        .unwrap();
    assert!(
        matches!(
            store.delete_if(key, &first.etag).await,
            Err(BlobError::Precondition(_))
        ),
        "an object replaced since is kept"
    );
    assert_eq!(&store.get(key).await.unwrap().unwrap().0[..], b"two");
    store.delete_if(key, &second.etag).await.unwrap();
    assert!(store.get(key).await.unwrap().is_none());
}

/// `put_many` answers each put in order, with that put's own condition:
/// one refused leaves the others written and itself unchanged; each
/// written one has its metadata.
pub async fn blob_put_many(store: &dyn BlobStore) {
    async fn first(store: &dyn BlobStore, k: &str, body: &'static [u8]) -> ObjectMeta {
        let body = Bytes::from_static(body);
        store
            .put(&key(k), body, PutMode::Create, options())
            .await
            .unwrap()
    }
    first(store, "r/crates/taken/taken-1.0.0.crate", b"kept").await;
    let stale = first(store, "r/index/st/al/stale", b"v1").await;
    store
        .put(
            &key("r/index/st/al/stale"),
            Bytes::from_static(b"v2"),
            PutMode::Overwrite,
            options(),
        )
        .await
        .unwrap();
    let fresh = first(store, "r/index/fr/es/fresh", b"v1").await;
    first(store, "r/index/ov/er/over", b"old").await;
    let put = |k: &str, body: &'static [u8], mode: PutMode| Put {
        key: key(k),
        body: Bytes::from_static(body),
        mode,
        options: options(),
    };
    let mut created = put("r/crates/new/new-1.0.0.crate", b"new", PutMode::Create);
    created.options.metadata = [("crate-revision".to_string(), "7".to_string())].into();
    let answers = store
        .put_many(vec![
            created,
            put("r/crates/taken/taken-1.0.0.crate", b"lost", PutMode::Create),
            put("r/index/st/al/stale", b"v3", PutMode::Update(stale.etag)),
            put("r/index/fr/es/fresh", b"v2", PutMode::Update(fresh.etag)),
            put("r/index/ov/er/over", b"over", PutMode::Overwrite),
        ])
        .await;
    assert_eq!(answers.len(), 5, "{answers:?}");
    assert!(answers[0].is_ok(), "{answers:?}");
    assert!(
        matches!(answers[1], Err(BlobError::AlreadyExists(_))),
        "{answers:?}"
    );
    assert!(
        matches!(answers[2], Err(BlobError::Precondition(_))),
        "{answers:?}"
    );
    assert!(answers[3].is_ok(), "{answers:?}");
    assert_eq!(
        answers[4].as_ref().map(|meta| meta.size).ok(),
        Some(4),
        "{answers:?}"
    );
    for (k, body) in [
        ("r/crates/new/new-1.0.0.crate", &b"new"[..]),
        ("r/crates/taken/taken-1.0.0.crate", b"kept"),
        ("r/index/st/al/stale", b"v2"),
        ("r/index/fr/es/fresh", b"v2"),
        ("r/index/ov/er/over", b"over"),
    ] {
        let (stored, _) = store.get(&key(k)).await.unwrap().unwrap();
        assert_eq!(&stored[..], body, "{k}");
    }
    let meta = store
        .head(&key("r/crates/new/new-1.0.0.crate"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(meta.revision(), 7, "{meta:?}");
    assert!(store.put_many(Vec::new()).await.is_empty());
}
