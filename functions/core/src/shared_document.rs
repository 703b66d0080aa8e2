//! A JSON document that concurrent writers change (`recent.json`, the
//! search shards): read, changed, and written back by compare-and-swap, so
//! that every writer's change counts; one that lost to another writer
//! reads again.

use crate::retry::Retries;
use crate::{BlobError, ObjectKey, ObjectMeta, PutMode, Registry, RegistryError};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

impl Registry {
    /// Applies `change` to the document at `key`, first over the copy
    /// `read_before` holds when it was read ahead. `change` returns whether
    /// it changed anything worth writing. A document that cannot be read
    /// (damaged by hand) counts as empty, and this write replaces it.
    pub(crate) async fn change_document<T: Serialize + DeserializeOwned + Default>(
        &self,
        key: &ObjectKey,
        private: bool,
        mut read_before: Option<Option<(Bytes, ObjectMeta)>>,
        change: impl Fn(&mut T) -> bool,
    ) -> Result<(), RegistryError> {
        let what = key.to_string();
        let mut retries = Retries::new(&what);
        loop {
            retries.next()?;
            let current = match read_before.take() {
                Some(current) => current,
                None => self.blobs.get(key).await?,
            };
            let (mut document, mode) = match current {
                Some((bytes, meta)) => (
                    serde_json::from_slice(&bytes).unwrap_or_default(),
                    PutMode::Update(meta.etag),
                ),
                None => (T::default(), PutMode::Create),
            };
            if !change(&mut document) {
                return Ok(());
            }
            let body = serde_json::to_vec(&document).expect("documents serialize");
            let options = key.put_options(private);
            match self.blobs.put(key, body.into(), mode, options).await {
                Ok(_) => return Ok(()),
                Err(BlobError::Precondition(_) | BlobError::AlreadyExists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}
