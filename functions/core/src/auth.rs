use crate::tokens::hash_token;
use crate::{Registry, RegistryError};
use subtle::ConstantTimeEq;

/// Who is making a request, once their token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
}

/// The token in an `Authorization` header: cargo sends it raw, Artifactory's
/// users send `Bearer <token>`; both are accepted.
pub fn token_from_header(value: &str) -> Option<&str> {
    let value = value.trim();
    let token = match value.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ if value.eq_ignore_ascii_case("bearer") => "",
        _ => value,
    };
    (!token.is_empty()).then_some(token)
}

impl Registry {
    /// Resolves an `Authorization` header to a principal; no header is anonymous.
    pub async fn authenticate(
        &self,
        header: Option<&str>,
    ) -> Result<Option<Principal>, RegistryError> {
        let Some(header) = header else {
            return Ok(None);
        };
        let token = token_from_header(header).ok_or(RegistryError::InvalidToken)?;
        let hash = hash_token(token);
        let record = self
            .store
            .get_token(&hash)
            .await?
            .ok_or(RegistryError::InvalidToken)?;
        // The lookup is by hash already; compare again without an early exit
        // so a store that matched loosely cannot let a wrong token through.
        if !bool::from(record.hash.as_bytes().ct_eq(hash.as_bytes())) {
            return Err(RegistryError::InvalidToken);
        }
        Ok(Some(Principal { user: record.user }))
    }

    /// Like [`Registry::authenticate`], for operations that need a user.
    pub async fn require_principal(
        &self,
        header: Option<&str>,
    ) -> Result<Principal, RegistryError> {
        self.authenticate(header)
            .await?
            .ok_or(RegistryError::MissingToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_from_header_accepts_raw_and_bearer() {
        assert_eq!(token_from_header("cyd_abc"), Some("cyd_abc"));
        assert_eq!(token_from_header("Bearer cyd_abc"), Some("cyd_abc"));
        assert_eq!(token_from_header("bearer  cyd_abc "), Some("cyd_abc"));
        assert_eq!(token_from_header("Bearer "), None);
        assert_eq!(token_from_header(""), None);
    }
}
