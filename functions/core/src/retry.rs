//! The one bound on compare-and-swap loops. Each round reads, decides and
//! writes conditionally; a lost race goes round again. Written as
//! `loop { retries.next()?; … }`, a loop can only end by its own `return`
//! or by running out, which is [`RegistryError::Contention`]: never a
//! silent success (a yank once answered "ok" after its retries ran out).

use crate::RegistryError;

/// How many rounds a compare-and-swap loop may take.
const MAX_ROUNDS: usize = 20;

#[derive(Debug)]
pub(crate) struct Retries<'a> {
    left: usize,
    /// What is contended, for the error (a crate or an object key).
    what: &'a str,
}

impl<'a> Retries<'a> {
    pub(crate) fn new(what: &'a str) -> Self {
        Self {
            left: MAX_ROUNDS,
            what,
        }
    }

    /// Starts a round, or ends the loop with a contention error.
    pub(crate) fn next(&mut self) -> Result<(), RegistryError> {
        if self.left == 0 {
            return Err(RegistryError::Contention(self.what.to_string()));
        }
        self.left -= 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_is_an_error() {
        let mut retries = Retries::new("foo");
        let rounds = std::iter::from_fn(|| retries.next().ok()).count();
        assert_eq!(rounds, MAX_ROUNDS);
        assert!(matches!(retries.next(), Err(RegistryError::Contention(w)) if w == "foo"));
    }
}
