//! Key files: a node's Ed25519 secret key (the 32-byte RFC 8032 seed) as one line of 64
//! lowercase hex characters, in a file only its owner may read or write.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use uhome_protocol::auth::{KeyId, SigningKey};

/// Why a key file cannot be made or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing failed (an existing file is never overwritten).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Group or others may read or write the file.
    #[error("{path}: the key file is accessible to others (mode {mode:03o}); run chmod 600 on it")]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The content is not one line of 64 lowercase hex characters.
    #[error("{path}: not a µHome key file (one line of 64 lowercase hex characters)")]
    Malformed {
        /// The file.
        path: PathBuf,
    },
}

/// A fresh key from the operating system's random source.
pub fn random_key() -> io::Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Creates `path` with mode 0600 holding a new key; refuses an existing file.
pub fn generate_key_file(path: &Path) -> Result<SigningKey, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let key = random_key().map_err(io)?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    let mut line = hex(&key.to_bytes());
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(key)
}

/// Reads a key file, refusing one that group or others may access.
pub fn load_key_file(path: &Path) -> Result<SigningKey, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Exposed {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let text = fs::read_to_string(path).map_err(io)?;
    parse_hex32(text.trim_end_matches('\n'))
        .map(|seed| SigningKey::from_bytes(&seed))
        .ok_or_else(|| KeyFileError::Malformed {
            path: path.to_path_buf(),
        })
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 bytes from exactly 64 lowercase hex characters.
pub fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64
        || !digits
            .iter()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *slot = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// `public <64 hex>` and `kid <16 hex>`, as `uhome key show` prints them.
pub fn describe(key: &SigningKey) -> String {
    let public = key.verifying_key();
    let kid = KeyId::of(&public).to_hex();
    format!(
        "public {}\nkid {}",
        hex(public.as_bytes()),
        String::from_utf8_lossy(&kid)
    )
}
