//! Where every reqwest client of Crateyard starts: rustls on ring, as the
//! AWS SDK's client (`crateyard_aws::https_client`). reqwest's own `rustls`
//! feature would add aws-lc, whose C library is over a megabyte of each
//! Lambda binary.

use std::sync::Arc;

/// A client builder whose TLS is rustls on ring, verifying servers against
/// the system's root certificates (as reqwest's default). It reads and
/// parses those roots now: build it when the first request needs it.
pub fn https_client() -> Result<reqwest::ClientBuilder, rustls::Error> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth();
    // What reqwest offers itself without its `http2` feature.
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_preconfigured_tls_is_accepted() {
        // reqwest takes a ClientConfig of its own rustls version only, and
        // otherwise fails at build().
        super::https_client().unwrap().build().unwrap();
    }
}
