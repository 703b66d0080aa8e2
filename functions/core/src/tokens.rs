//! API tokens: random, shown once, stored only as a SHA-256 hash, with
//! optional scopes, crate globs, repositories and expiry.

use crate::access::{Permission, Principal, TokenAction, is_valid_principal_name};
use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::clock::{now_rfc3339, now_unix};
use crate::{Registry, RegistryError, StoreError, TokenRecord, User};
use sha2::{Digest, Sha256};
use std::time::Duration;

const TOKEN_PREFIX: &str = "cyd_";
const MAX_GLOBS: usize = 32;

/// A freshly created token: the secret is shown once and only its hash is kept.
#[derive(Debug)]
pub struct NewToken {
    pub token: String,
    pub record: TokenRecord,
}

/// What a new token may do; the defaults make an unrestricted token.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub user: String,
    pub name: String,
    /// `None`: every scope its user holds.
    pub scopes: Option<Vec<Permission>>,
    pub crates: Vec<String>,
    pub repos: Vec<String>,
    pub lifetime: Option<Duration>,
}

pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `cyd_`, 256 random bits in hex, then `.` and the user's login. The login
/// is no secret (only the bits are); it lets a function instance read the
/// user beside the token from its first request with it (see
/// [`Registry::authenticate`]), where it would otherwise read it after.
fn random_token(login: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    format!("{TOKEN_PREFIX}{}.{login}", hex::encode(bytes))
}

/// The login a token names after its random part: a hint for what to read,
/// never a decision (tokens made before it have none).
pub(crate) fn login_hint(token: &str) -> Option<&str> {
    let (_, login) = token.strip_prefix(TOKEN_PREFIX)?.split_once('.')?;
    is_valid_principal_name(login).then_some(login)
}

/// Parses a lifetime such as `90s`, `15m`, `12h` or `30d`.
pub fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 && unit_secs > 0 && n <= 36_500 * 86_400 / unit_secs => {
            Ok(Duration::from_secs(n * unit_secs))
        }
        _ => Err(format!(
            "`{text}` is not a lifetime: write a positive number and a unit, like `90s`, `15m`, `12h` or `30d`"
        )),
    }
}

/// When a token with this lifetime, created now, expires (epoch seconds).
fn expiry(lifetime: Option<Duration>) -> Option<i64> {
    lifetime.map(|l| now_unix() + l.as_secs() as i64)
}

impl Registry {
    /// Creates a token, creating its user on first use (a plain user: no
    /// admin rights, no groups).
    pub async fn create_token(&self, request: TokenRequest) -> Result<NewToken, RegistryError> {
        let expires_at = expiry(request.lifetime);
        self.mint_token(request, expires_at, &Actor::operator())
            .await
    }

    /// Creates the token, expiring at `expires_at` (computed once by the
    /// caller, so the limit checked is the limit stored).
    async fn mint_token(
        &self,
        request: TokenRequest,
        expires_at: Option<i64>,
        by: &Actor,
    ) -> Result<NewToken, RegistryError> {
        let TokenRequest {
            user,
            name,
            scopes,
            crates,
            repos,
            lifetime: _,
        } = request;
        if !is_valid_principal_name(&user) {
            return Err(RegistryError::BadRequest(format!(
                "`{user}` is not a valid user name: use letters, digits, `-`, `_`, `.` and `@`"
            )));
        }
        if crates.len() > MAX_GLOBS || crates.iter().any(|g| !is_valid_glob(g)) {
            return Err(RegistryError::BadRequest(format!(
                "crate patterns are crate names with `*` wildcards, at most {MAX_GLOBS}: {crates:?}"
            )));
        }
        for repo in &repos {
            self.repository(repo).await?;
        }
        if scopes.as_ref().is_some_and(Vec::is_empty) {
            return Err(RegistryError::BadRequest(
                "a token needs at least one scope; leave scopes out for all of its user's".into(),
            ));
        }
        match self
            .store
            .create_user(&User {
                login: user.clone(),
                admin: false,
                groups: Vec::new(),
                created_at: now_rfc3339(),
            })
            .await
        {
            Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let token = random_token(&user);
        let record = TokenRecord {
            name,
            scopes,
            crates,
            repos,
            expires_at,
            ..TokenRecord::unrestricted(&hash_token(&token), &user)
        };
        self.store.create_token(&record).await?;
        let detail = format!(
            "token `{}` ({}) for `{}`: scopes {:?}, crates {:?}, repositories {:?}, expires {:?}",
            record.name,
            record.id(),
            record.user,
            record.scopes,
            record.crates,
            record.repos,
            record.expires_at
        );
        self.audit(AuditEntry::new(by, AuditAction::TokenCreate, detail))
            .await;
        tracing::info!(target: "crateyard::access", user = %record.user, token = record.id(), scopes = ?record.scopes, "token created");
        Ok(NewToken { token, record })
    }

    /// A token asked for over the API: within the limits of the asking
    /// token, for its own user unless a registry admin asks
    /// ([`crate::access::decide_token_action`]).
    pub async fn create_token_as(
        &self,
        who: &Principal,
        request: TokenRequest,
    ) -> Result<NewToken, RegistryError> {
        let expires_at = expiry(request.lifetime);
        self.authorize_token_action(
            who,
            TokenAction::Mint {
                user: &request.user,
                scopes: request.scopes.as_deref(),
                crates: &request.crates,
                repos: &request.repos,
                expires_at,
            },
        )
        .await?;
        self.mint_token(request, expires_at, &who.into()).await
    }

    /// `user`'s token records, asked for over the API by `who`.
    pub async fn tokens_as(
        &self,
        who: &Principal,
        user: &str,
    ) -> Result<Vec<TokenRecord>, RegistryError> {
        self.authorize_token_action(who, TokenAction::List { user })
            .await?;
        self.tokens(Some(user)).await
    }

    /// Token records (never the tokens): one user's, or everyone's.
    pub async fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenRecord>, RegistryError> {
        let mut tokens = self.store.list_tokens().await?;
        tokens.retain(|t| user.is_none_or(|u| t.user == u));
        tokens.sort_by(|a, b| (&a.user, &a.created_at).cmp(&(&b.user, &b.created_at)));
        Ok(tokens)
    }

    /// Revokes the token with this id. `by`, when given, must be its owner
    /// or an admin; the CLI, which holds the store itself, passes `None`.
    pub async fn revoke_token(
        &self,
        id: &str,
        by: Option<&Principal>,
    ) -> Result<TokenRecord, RegistryError> {
        let unknown = || RegistryError::BadRequest(format!("no token has the id `{id}`"));
        if id.len() < 8 {
            return Err(unknown());
        }
        let record = self
            .store
            .list_tokens()
            .await?
            .into_iter()
            .find(|t| t.id() == id)
            .ok_or_else(unknown)?;
        if let Some(by) = by {
            // Someone else's token stays unknown to a non-admin.
            if by.user.login != record.user && !by.user.admin {
                return Err(unknown());
            }
            self.authorize_token_action(by, TokenAction::Revoke { target: &record })
                .await?;
        }
        match self.store.delete_token(&record.hash).await {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let by = by.map_or_else(Actor::operator, Actor::from);
        let detail = format!(
            "token `{}` ({}) of `{}`",
            record.name,
            record.id(),
            record.user
        );
        self.audit(AuditEntry::new(&by, AuditAction::TokenRevoke, detail))
            .await;
        tracing::info!(target: "crateyard::access", user = %record.user, token = record.id(), "token revoked");
        Ok(record)
    }
}

/// A crate name pattern: name characters and `*`.
fn is_valid_glob(glob: &str) -> bool {
    !glob.is_empty()
        && glob.len() <= 64
        && glob
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_*".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_token_is_prefixed_and_unique() {
        let (a, b) = (random_token("al.ice"), random_token("al.ice"));
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64 + 7);
        assert_eq!(login_hint(&a), Some("al.ice"));
        assert_ne!(a, b);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
    }

    #[test]
    fn only_a_valid_login_is_a_hint() {
        let secret = "0".repeat(64);
        assert_eq!(login_hint(&format!("cyd_{secret}")), None);
        assert_eq!(login_hint(&format!("cyd_{secret}.")), None);
        assert_eq!(login_hint(&format!("cyd_{secret}.a/b")), None);
        assert_eq!(login_hint(&format!("xyz_{secret}.alice")), None);
        assert_eq!(login_hint(&format!("cyd_{secret}.bob@x")), Some("bob@x"));
    }

    #[test]
    fn lifetimes_parse() {
        assert_eq!(parse_lifetime("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_lifetime("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_lifetime("0d").is_err());
        assert!(parse_lifetime("30").is_err());
        assert!(parse_lifetime("d").is_err());
        assert!(parse_lifetime("99999999999d").is_err());
    }
}
