use crate::clock::now_rfc3339;
use crate::{Registry, RegistryError, StoreError, TokenRecord, User};
use sha2::{Digest, Sha256};

const TOKEN_PREFIX: &str = "cyd_";

/// A freshly created token: the secret is shown once and only its hash is kept.
#[derive(Debug)]
pub struct NewToken {
    pub token: String,
    pub record: TokenRecord,
}

pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

impl Registry {
    /// Creates a token for `user`, creating the user on first use.
    pub async fn create_token(&self, user: &str, name: &str) -> Result<NewToken, RegistryError> {
        if user.is_empty()
            || !user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        {
            return Err(RegistryError::BadRequest(format!(
                "`{user}` is not a valid user name: use letters, digits, `-`, `_`, `.` and `@`"
            )));
        }
        let now = now_rfc3339();
        match self
            .store
            .create_user(&User {
                login: user.into(),
                created_at: now.clone(),
            })
            .await
        {
            Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let token = random_token();
        let record = TokenRecord {
            hash: hash_token(&token),
            user: user.into(),
            name: name.into(),
            created_at: now,
        };
        self.store.create_token(&record).await?;
        Ok(NewToken { token, record })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_token_is_prefixed_and_unique() {
        let (a, b) = (random_token(), random_token());
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_ne!(a, b);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
    }
}
