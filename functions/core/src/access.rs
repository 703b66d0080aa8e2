//! Access control: who may do what in which repository. Every decision of
//! the registry goes through [`decide`]; nothing else grants or denies.

use crate::{Repository, TokenRecord, User};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a request does. Repository grants and token scopes use the same words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// Index files, downloads, search and owner lists of a private repository.
    Read,
    /// Publishing the first version of a crate.
    PublishNew,
    /// Publishing a new version of a crate one owns.
    PublishUpdate,
    /// Yanking and unyanking versions of a crate one owns.
    Yank,
    /// Adding and removing owners of a crate one owns.
    #[serde(alias = "manage-owners")]
    ChangeOwners,
    /// Everything, on any crate, plus repository settings and reindex.
    Admin,
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Self::Read,
        Self::PublishNew,
        Self::PublishUpdate,
        Self::Yank,
        Self::ChangeOwners,
        Self::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::PublishNew => "publish-new",
            Self::PublishUpdate => "publish-update",
            Self::Yank => "yank",
            Self::ChangeOwners => "change-owners",
            Self::Admin => "admin",
        }
    }

    /// Actions limited to crates the caller owns (unless an admin).
    fn needs_ownership(self) -> bool {
        matches!(self, Self::PublishUpdate | Self::Yank | Self::ChangeOwners)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "manage-owners" => Ok(Self::ChangeOwners),
            s => Self::ALL
                .into_iter()
                .find(|p| p.as_str() == s)
                .ok_or_else(|| {
                    format!(
                        "`{s}` is not a permission; use one of: {}",
                        Self::ALL.map(Self::as_str).join(", ")
                    )
                }),
        }
    }
}

/// Whom a repository grant names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    User(String),
    Group(String),
    /// Anyone with a valid token.
    Authenticated,
}

/// How a group appears in grants and in a crate's owner list.
pub const GROUP_PREFIX: &str = "group:";

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(login) => write!(f, "user:{login}"),
            Self::Group(group) => write!(f, "{GROUP_PREFIX}{group}"),
            Self::Authenticated => f.write_str("authenticated"),
        }
    }
}

impl FromStr for Subject {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let subject = match s.split_once(':') {
            _ if s == "authenticated" => return Ok(Self::Authenticated),
            Some(("user", login)) => Self::User(login.into()),
            Some(("group", group)) => Self::Group(group.into()),
            _ => {
                return Err(format!(
                    "`{s}` names nobody: use `user:LOGIN`, `group:NAME` or `authenticated`"
                ));
            }
        };
        match &subject {
            Self::User(n) | Self::Group(n) if !is_valid_principal_name(n) => Err(format!(
                "`{n}` is not a valid name: use letters, digits, `-`, `_`, `.` and `@`"
            )),
            _ => Ok(subject),
        }
    }
}

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// User logins and group names share one alphabet.
pub fn is_valid_principal_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

/// Permissions given to a subject in one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub to: Subject,
    pub permissions: Vec<Permission>,
}

/// Who is making a request: the user behind a valid token, and the token's
/// own limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: User,
    pub token: TokenRecord,
}

impl Principal {
    pub fn login(&self) -> &str {
        &self.user.login
    }

    /// Whether a crate owner list names this user, or a group they belong to.
    pub fn is_owner(&self, owners: &[String]) -> bool {
        owners
            .iter()
            .any(|owner| match owner.strip_prefix(GROUP_PREFIX) {
                Some(group) => self.user.groups.iter().any(|g| g == group),
                None => *owner == self.user.login,
            })
    }

    /// The permissions the user holds in `repo`, before token limits.
    fn holds(&self, repo: &Repository, permission: Permission) -> bool {
        self.user.admin
            || repo.grants.iter().any(|grant| {
                let applies = match &grant.to {
                    Subject::Authenticated => true,
                    Subject::User(login) => *login == self.user.login,
                    Subject::Group(group) => self.user.groups.contains(group),
                };
                applies
                    && grant
                        .permissions
                        .iter()
                        .any(|p| *p == permission || *p == Permission::Admin)
            })
    }
}

/// The crate a request acts on, when it acts on one.
#[derive(Debug, Clone, Copy)]
pub struct CrateTarget<'a> {
    pub name: &'a str,
    /// `None` when the crate does not exist (yet).
    pub owners: Option<&'a [String]>,
}

/// Why a request is refused. The messages are for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("this repository needs a token")]
    NoToken,
    #[error("this token is limited to the repositories {allowed:?}")]
    TokenRepository { allowed: Vec<String> },
    #[error("this token lacks the `{0}` scope; create one with `--scopes {0}`")]
    TokenScope(Permission),
    #[error("this token is limited to crates matching {patterns:?}")]
    TokenCrates { patterns: Vec<String> },
    #[error("you (`{login}`) lack the `{permission}` permission in repository `{repo}`")]
    NoPermission {
        login: String,
        permission: Permission,
        repo: String,
    },
    #[error("you (`{login}`) are not a registry admin")]
    NotAdmin { login: String },
    #[error(
        "you (`{login}`) are not an owner of crate `{krate}`; an owner can add you with `cargo owner --add {login}`"
    )]
    NotOwner { login: String, krate: String },
    #[error("{0}")]
    TokenLimits(String),
}

/// The one access rule. Public repositories let anyone read; everything else
/// needs a token whose repositories, scopes and crate globs cover the
/// request, a user holding the permission in the repository, and, for
/// changes to an existing crate, ownership (direct or through a group).
/// Admins (global, or with `admin` in the repository) skip the last two.
pub fn decide(
    caller: Option<&Principal>,
    repo: &Repository,
    permission: Permission,
    krate: Option<CrateTarget<'_>>,
) -> Result<(), Denial> {
    if permission == Permission::Read && repo.anonymous_read {
        return Ok(());
    }
    let Some(caller) = caller else {
        return Err(Denial::NoToken);
    };
    let token = &caller.token;
    if !token.repos.is_empty() && !token.repos.contains(&repo.name) {
        return Err(Denial::TokenRepository {
            allowed: token.repos.clone(),
        });
    }
    if let Some(scopes) = &token.scopes
        && !scopes.contains(&permission)
        && !scopes.contains(&Permission::Admin)
    {
        return Err(Denial::TokenScope(permission));
    }
    if let Some(krate) = krate
        && !token.crates.is_empty()
        && !token
            .crates
            .iter()
            .any(|glob| glob_matches(glob, krate.name))
    {
        return Err(Denial::TokenCrates {
            patterns: token.crates.clone(),
        });
    }
    if !caller.holds(repo, permission) {
        return Err(Denial::NoPermission {
            login: caller.user.login.clone(),
            permission,
            repo: repo.name.clone(),
        });
    }
    if permission.needs_ownership()
        && let Some(CrateTarget {
            name,
            owners: Some(owners),
        }) = krate
        && !caller.is_owner(owners)
        && !caller.holds(repo, Permission::Admin)
    {
        return Err(Denial::NotOwner {
            login: caller.user.login.clone(),
            krate: name.into(),
        });
    }
    Ok(())
}

/// The crate a document naming any of a repository's crates counts as
/// (its git index, `ui/recent.json`): in a private repository only a
/// token limited to no crates (or to `*`) may read it.
pub const EVERY_CRATE: &str = "*";

/// Whether a virtual repository's git index shows crate `name` of the
/// `member` that serves it. A git index is one document for all its
/// readers, so a public virtual repository's shows only what anyone may
/// read; a crate it may not show is left out, never replaced by a later
/// member's crate of that name. A private one shows every member's crates,
/// and [`decide_virtual_git_read`] keeps it to readers of them all.
pub fn in_virtual_git_index(repo: &Repository, member: &Repository, name: &str) -> bool {
    let target = CrateTarget { name, owners: None };
    !repo.anonymous_read || decide(None, member, Permission::Read, Some(target)).is_ok()
}

/// Who may read a virtual repository's git index: anyone who may read it,
/// if it is public (it then holds only public crates); if private, a
/// caller who may read every crate of it and of each of its `members`.
pub fn decide_virtual_git_read(
    caller: Option<&Principal>,
    repo: &Repository,
    members: &[Repository],
) -> Result<(), Denial> {
    let every = Some(CrateTarget {
        name: EVERY_CRATE,
        owners: None,
    });
    decide(caller, repo, Permission::Read, every)?;
    if repo.anonymous_read {
        return Ok(());
    }
    members
        .iter()
        .try_for_each(|member| decide(caller, member, Permission::Read, every))
}

/// The rule for registry-wide administration (users, repositories, other
/// users' tokens): a global admin, with a token that is not limited to some
/// repositories or crates (settings reach every crate) and has the `admin`
/// scope (or no scopes, i.e. all).
pub fn decide_global_admin(caller: Option<&Principal>) -> Result<(), Denial> {
    let Some(caller) = caller else {
        return Err(Denial::NoToken);
    };
    if !caller.user.admin {
        return Err(Denial::NotAdmin {
            login: caller.user.login.clone(),
        });
    }
    if !caller.token.repos.is_empty() {
        return Err(Denial::TokenRepository {
            allowed: caller.token.repos.clone(),
        });
    }
    if !caller.token.crates.is_empty() {
        return Err(Denial::TokenCrates {
            patterns: caller.token.crates.clone(),
        });
    }
    match &caller.token.scopes {
        Some(scopes) if !scopes.contains(&Permission::Admin) => {
            Err(Denial::TokenScope(Permission::Admin))
        }
        _ => Ok(()),
    }
}

/// A request about tokens, by a token.
#[derive(Debug, Clone, Copy)]
pub enum TokenAction<'a> {
    /// Creating a token for `user` with these limits.
    Mint {
        user: &'a str,
        scopes: Option<&'a [Permission]>,
        crates: &'a [String],
        repos: &'a [String],
        expires_at: Option<i64>,
    },
    /// Listing `user`'s tokens.
    List { user: &'a str },
    /// Revoking a token.
    Revoke { target: &'a TokenRecord },
}

/// The rule for tokens. A token can always revoke itself. Anything about
/// another user's tokens needs a registry admin. Listing and revoking
/// others needs a token without limits (a read-only token must not be able
/// to see or cancel the credentials of its user). A new token must fit
/// inside the limits of the one that mints it: expiry, scopes, crate globs
/// and repositories, so no limit can be shed by minting.
pub fn decide_token_action(caller: &Principal, action: TokenAction<'_>) -> Result<(), Denial> {
    let token = &caller.token;
    let user = match action {
        TokenAction::Revoke { target } if target.hash == token.hash => return Ok(()),
        TokenAction::Revoke { target } => target.user.as_str(),
        TokenAction::List { user } | TokenAction::Mint { user, .. } => user,
    };
    if user != caller.user.login {
        decide_global_admin(Some(caller))?;
    }
    let all_scopes = token
        .scopes
        .as_ref()
        .is_none_or(|s| s.contains(&Permission::Admin));
    let TokenAction::Mint {
        scopes,
        crates,
        repos,
        expires_at,
        ..
    } = action
    else {
        return if all_scopes && token.crates.is_empty() && token.repos.is_empty() {
            Ok(())
        } else {
            Err(Denial::TokenLimits(
                "this token has limits (scopes, crates or repositories); list and revoke tokens with a token without limits".into(),
            ))
        };
    };
    let refuse = |what: String| Err(Denial::TokenLimits(what));
    if let Some(limit) = token.expires_at
        && expires_at.is_none_or(|e| e > limit)
    {
        return refuse(format!(
            "this token expires at {limit} (Unix time); a token it creates must expire by then: ask for a shorter lifetime"
        ));
    }
    if !all_scopes
        && let Some(held) = &token.scopes
        && !scopes.is_some_and(|asked| asked.iter().all(|p| held.contains(p)))
    {
        let held: Vec<String> = held.iter().map(|p| format!("`{p}`")).collect();
        return refuse(format!(
            "this token's scopes are {}; a token it creates may have only those: name them with `scopes`",
            held.join(", ")
        ));
    }
    let covered = |glob: &String| {
        token
            .crates
            .iter()
            .any(|held| held == glob || (!glob.contains('*') && glob_matches(held, glob)))
    };
    if !token.crates.is_empty() && (crates.is_empty() || !crates.iter().all(covered)) {
        return refuse(format!(
            "this token is limited to crates matching {:?}; a token it creates must be limited to those too",
            token.crates
        ));
    }
    if !token.repos.is_empty()
        && (repos.is_empty() || !repos.iter().all(|r| token.repos.contains(r)))
    {
        return refuse(format!(
            "this token is limited to the repositories {:?}; a token it creates must be limited to those too",
            token.repos
        ));
    }
    Ok(())
}

/// Whether a token may touch this crate at all: its crate globs, if any.
pub fn token_covers_crate(token: &TokenRecord, name: &str) -> bool {
    token.crates.is_empty() || token.crates.iter().any(|g| glob_matches(g, name))
}

/// `*` matches any run of characters; names compare in canonical form, so
/// `serde-*` covers `serde_json`.
pub fn glob_matches(glob: &str, name: &str) -> bool {
    let canon = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let (glob, name) = (canon(glob), canon(name));
    let mut parts = glob.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(anonymous_read: bool, grants: Vec<Grant>) -> Repository {
        Repository {
            name: "main".into(),
            anonymous_read,
            grants,
            ..Repository::new_local("main")
        }
    }

    fn principal(login: &str, groups: &[&str], admin: bool) -> Principal {
        Principal {
            user: User {
                login: login.into(),
                admin,
                groups: groups.iter().map(|g| g.to_string()).collect(),
                created_at: String::new(),
            },
            token: TokenRecord::unrestricted("hash", login),
        }
    }

    fn grant(to: &str, permissions: &[Permission]) -> Grant {
        Grant {
            to: to.parse().unwrap(),
            permissions: permissions.to_vec(),
        }
    }

    #[test]
    fn a_virtual_git_index_shows_what_its_audience_may_read() {
        let reader = grant("user:ann", &[Permission::Read]);
        let public_member = repo(true, vec![]);
        let private_member = repo(false, vec![reader.clone()]);
        let public_virtual = repo(true, vec![]);
        let private_virtual = repo(false, vec![reader.clone()]);
        // Public: only what anyone may read.
        assert!(in_virtual_git_index(&public_virtual, &public_member, "a"));
        assert!(!in_virtual_git_index(&public_virtual, &private_member, "a"));
        assert!(
            decide_virtual_git_read(None, &public_virtual, std::slice::from_ref(&private_member))
                .is_ok()
        );
        // Private: everything, for readers of every member.
        assert!(in_virtual_git_index(&private_virtual, &private_member, "a"));
        let ann = principal("ann", &[], false);
        let bob = principal("bob", &[], false);
        let members = [public_member, private_member.clone()];
        assert!(decide_virtual_git_read(Some(&ann), &private_virtual, &members).is_ok());
        assert_eq!(
            decide_virtual_git_read(None, &private_virtual, &members),
            Err(Denial::NoToken)
        );
        let shut_out = repo(false, vec![]);
        assert!(
            decide_virtual_git_read(Some(&ann), &private_virtual, &[private_member, shut_out])
                .is_err()
        );
        assert!(decide_virtual_git_read(Some(&bob), &private_virtual, &members).is_err());
        // A token limited to some crates reads no whole index.
        let mut limited = principal("ann", &[], false);
        limited.token.crates = vec!["serde*".into()];
        assert!(decide_virtual_git_read(Some(&limited), &private_virtual, &members).is_err());
    }

    #[test]
    fn globs_match_canonical_names() {
        assert!(glob_matches("serde*", "serde_json"));
        assert!(glob_matches("serde-*", "Serde_json"));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("a*b*c", "axxbyyc"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exactly"));
        assert!(!glob_matches("a*bc", "abc_x"));
        assert!(!glob_matches("ab*ba", "aba"));
    }

    #[test]
    fn public_reads_need_nothing_private_reads_need_a_grant() {
        let public = repo(true, vec![]);
        assert_eq!(decide(None, &public, Permission::Read, None), Ok(()));
        let private = repo(false, vec![grant("group:devs", &[Permission::Read])]);
        assert_eq!(
            decide(None, &private, Permission::Read, None),
            Err(Denial::NoToken)
        );
        let dev = principal("ann", &["devs"], false);
        let other = principal("bob", &[], false);
        assert_eq!(decide(Some(&dev), &private, Permission::Read, None), Ok(()));
        assert!(matches!(
            decide(Some(&other), &private, Permission::Read, None),
            Err(Denial::NoPermission { .. })
        ));
    }

    #[test]
    fn changes_need_ownership_unless_admin() {
        let r = repo(true, vec![grant("authenticated", &[Permission::Yank])]);
        let owners = vec!["group:devs".to_string()];
        let target = Some(CrateTarget {
            name: "foo",
            owners: Some(&owners),
        });
        let dev = principal("ann", &["devs"], false);
        let stranger = principal("bob", &[], false);
        let admin = principal("root", &[], true);
        assert_eq!(decide(Some(&dev), &r, Permission::Yank, target), Ok(()));
        assert!(matches!(
            decide(Some(&stranger), &r, Permission::Yank, target),
            Err(Denial::NotOwner { .. })
        ));
        assert_eq!(decide(Some(&admin), &r, Permission::Yank, target), Ok(()));
    }

    #[test]
    fn token_limits_apply_before_user_permissions() {
        let r = repo(true, vec![grant("authenticated", &Permission::ALL)]);
        let mut caller = principal("ann", &[], false);
        caller.token.scopes = Some(vec![Permission::Read]);
        assert_eq!(
            decide(Some(&caller), &r, Permission::Yank, None),
            Err(Denial::TokenScope(Permission::Yank))
        );
        caller.token.scopes = None;
        caller.token.crates = vec!["foo-*".into()];
        let bar = Some(CrateTarget {
            name: "bar",
            owners: None,
        });
        assert!(matches!(
            decide(Some(&caller), &r, Permission::PublishNew, bar),
            Err(Denial::TokenCrates { .. })
        ));
        caller.token.crates.clear();
        caller.token.repos = vec!["other".into()];
        assert!(matches!(
            decide(Some(&caller), &r, Permission::PublishNew, bar),
            Err(Denial::TokenRepository { .. })
        ));
    }

    #[test]
    fn registry_administration_needs_a_token_without_limits() {
        let mut admin = principal("root", &[], true);
        assert_eq!(decide_global_admin(Some(&admin)), Ok(()));
        admin.token.crates = vec!["foo-*".into()];
        assert!(matches!(
            decide_global_admin(Some(&admin)),
            Err(Denial::TokenCrates { .. })
        ));
        admin.token.crates.clear();
        admin.token.repos = vec!["main".into()];
        assert!(matches!(
            decide_global_admin(Some(&admin)),
            Err(Denial::TokenRepository { .. })
        ));
        admin.token.repos.clear();
        admin.token.scopes = Some(vec![Permission::Read]);
        assert_eq!(
            decide_global_admin(Some(&admin)),
            Err(Denial::TokenScope(Permission::Admin))
        );
        let user = principal("ann", &[], false);
        assert!(matches!(
            decide_global_admin(Some(&user)),
            Err(Denial::NotAdmin { .. })
        ));
    }

    #[test]
    fn subjects_and_permissions_parse() {
        assert_eq!(
            "group:devs".parse::<Subject>(),
            Ok(Subject::Group("devs".into()))
        );
        assert!("devs".parse::<Subject>().is_err());
        assert!("user:".parse::<Subject>().is_err());
        assert_eq!(
            "manage-owners".parse::<Permission>(),
            Ok(Permission::ChangeOwners)
        );
        assert!("publish".parse::<Permission>().is_err());
    }
}
