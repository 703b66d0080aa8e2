//! How `crateyard` reports a failure. A mistake the person at the keyboard
//! can fix is a sentence and a hint, whatever `RUST_BACKTRACE` says: a stack
//! trace there only hides the sentence. Our own faults keep anyhow's full
//! report (cause chain, and a backtrace when asked for).

use crateyard_core::RegistryError;

/// A mistake the user can fix, with what to do next.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UserError {
    message: String,
    hint: String,
}

impl UserError {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// What `main` prints for an error, ending in a newline.
pub fn render(error: &anyhow::Error) -> String {
    if let Some(user) = error.chain().find_map(|e| e.downcast_ref::<UserError>()) {
        // `{:#}` is the one-line chain: outer context, then the sentence.
        return format!("error: {error:#}\nhint: {}\n", user.hint);
    }
    let registry = error
        .chain()
        .find_map(|e| e.downcast_ref::<RegistryError>());
    match registry {
        Some(e) if !e.is_internal() => match registry_hint(e) {
            Some(hint) => format!("error: {error:#}\nhint: {hint}\n"),
            // The registry's own messages already say what to do.
            None => format!("error: {error:#}\n"),
        },
        _ => format!("error: {error:?}\n"),
    }
}

/// Hints for registry refusals whose message has none of its own.
fn registry_hint(error: &RegistryError) -> Option<&'static str> {
    match error {
        RegistryError::UnknownRepository(_) => Some(
            "`crateyard repo list` shows the repositories; `crateyard repo create NAME` makes one",
        ),
        RegistryError::UnknownCrate(_) | RegistryError::UnknownVersion { .. } => {
            Some("check the spelling, and the repository (`--repo`) if there are several")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_user_error_is_its_chain_and_hint() {
        let error = Err::<(), _>(UserError::new("the port is taken", "pick another"))
            .context("cannot listen")
            .unwrap_err();
        assert_eq!(
            render(&error),
            "error: cannot listen: the port is taken\nhint: pick another\n"
        );
    }

    #[test]
    fn a_registry_refusal_is_its_sentence() {
        let error = anyhow::Error::new(RegistryError::UnknownRepository("x".into()));
        assert_eq!(
            render(&error),
            "error: repository `x` does not exist\nhint: `crateyard repo list` shows the \
             repositories; `crateyard repo create NAME` makes one\n"
        );
        let error = anyhow::Error::new(RegistryError::BadRequest("say what".into()));
        assert_eq!(render(&error), "error: say what\n");
    }

    #[test]
    fn an_internal_error_keeps_the_full_report() {
        let error = Err::<(), _>(std::io::Error::other("disk on fire"))
            .context("cannot open the SQLite database")
            .unwrap_err();
        assert!(render(&error).contains("Caused by:"), "{}", render(&error));
    }
}
