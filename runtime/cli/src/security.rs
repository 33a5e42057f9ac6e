//! Turning `--key-file`, `--policy` and `--mode` into a node's [`Security`].

use std::path::Path;
use std::sync::Arc;

use uhome_runtime::security::{load_key_file, AllowList, Mode, Policy, Security};

use crate::args::SecurityArgs;

/// A node's security from a key file and a policy, `mode` overriding the policy's.
pub fn load(key: &Path, policy: &Path, mode: Option<Mode>) -> Result<Arc<Security>, String> {
    let key = load_key_file(key).map_err(|e| e.to_string())?;
    let policy = Policy::load(policy)?;
    let mut security = Security::from_policy(&policy, key);
    if let Some(mode) = mode {
        security = security.with_mode(mode);
    }
    Ok(Arc::new(security))
}

/// The security of a node command: the key and the policy given, or `compat` without a key.
pub fn node(args: &SecurityArgs) -> Result<Arc<Security>, String> {
    match (&args.key_file, &args.policy) {
        (Some(key), Some(policy)) => load(key, policy, args.mode),
        (None, None) => keyless(&args.compat_allow),
        _ => Err("--key-file and --policy go together".into()),
    }
}

/// `compat` without a key, serving unauthenticated requests from `blocks` (none: the
/// loopback and private ranges).
pub fn keyless(blocks: &[String]) -> Result<Arc<Security>, String> {
    let allow = if blocks.is_empty() {
        AllowList::local()
    } else {
        AllowList::parse(blocks).map_err(|e| format!("--compat-allow: {e}"))?
    };
    Ok(Arc::new(Security::keyless(allow)))
}

/// Logs the mode, and in `compat` which addresses may send unauthenticated requests.
pub fn announce(node: &str, security: &Security) {
    let kid = security
        .kid()
        .map(|k| String::from_utf8_lossy(&k.to_hex()).into_owned());
    match security.mode() {
        Mode::Secure => tracing::info!(
            node,
            kid = kid.as_deref().unwrap_or("-"),
            outbound = %security.outbound_allow(),
            "secure mode: every request must be signed by a key of the policy"
        ),
        Mode::Compat => tracing::info!(
            node,
            kid = kid.as_deref().unwrap_or("none"),
            accepted_from = %security.compat_allow(),
            "compat mode: unauthenticated requests are served from these ranges only{}",
            if security.signs() { "; signed ones are verified" } else { " (no key: nothing is signed; configure --policy and --key-file for secure mode)" }
        ),
    }
}
