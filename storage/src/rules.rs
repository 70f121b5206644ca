//! S3 naming rules. The SQL layer checks them while planning (for an early,
//! precise error) and the state machine checks them again when it applies a
//! batch, so no replica ever stores a row that breaks them.

/// Checks an S3 bucket name: 3–63 characters of lowercase letters, digits,
/// '-' and '.', beginning and ending with a letter or digit.
pub fn check_bucket_name(name: &[u8]) -> Result<(), String> {
    let shown = String::from_utf8_lossy(name);
    if name.len() < 3 || name.len() > 63 {
        return Err(format!(
            "invalid bucket name \"{shown}\": must be 3 to 63 characters long"
        ));
    }
    if !name
        .iter()
        .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
    {
        return Err(format!(
            "invalid bucket name \"{shown}\": only lowercase letters, digits, '-' and '.' are allowed"
        ));
    }
    let edge_ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !edge_ok(name[0]) || !edge_ok(name[name.len() - 1]) {
        return Err(format!(
            "invalid bucket name \"{shown}\": must begin and end with a letter or digit"
        ));
    }
    Ok(())
}

/// Longest object key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// Checks an S3 object key: 1–1024 bytes of valid UTF-8.
pub fn check_object_key(key: &[u8]) -> Result<(), String> {
    if key.is_empty() {
        return Err("invalid object key: must not be empty".into());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "invalid object key: {} bytes long, at most {MAX_KEY_BYTES} allowed",
            key.len()
        ));
    }
    if std::str::from_utf8(key).is_err() {
        return Err("invalid object key: not valid UTF-8".into());
    }
    Ok(())
}

/// Longest upload id accepted, in bytes.
pub const MAX_UPLOAD_ID_BYTES: usize = 256;

/// Checks a multipart upload id: 1–256 bytes of UTF-8 without NUL.
pub fn check_upload_id(id: &[u8]) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_UPLOAD_ID_BYTES {
        return Err(format!(
            "invalid upload id: must be 1 to {MAX_UPLOAD_ID_BYTES} bytes long"
        ));
    }
    if id.contains(&0) || std::str::from_utf8(id).is_err() {
        return Err("invalid upload id: must be UTF-8 without NUL characters".into());
    }
    Ok(())
}

/// S3 part numbers: 1 to 10,000.
pub fn check_part_number(n: u32) -> Result<(), String> {
    if (1..=10_000).contains(&n) {
        Ok(())
    } else {
        Err(format!(
            "invalid part number {n}: must be between 1 and 10000"
        ))
    }
}

/// Longest role name accepted, in bytes (PostgreSQL's NAMEDATALEN - 1).
pub const MAX_ROLE_NAME_BYTES: usize = 63;

/// Checks a role name: 1–63 bytes of UTF-8 without NUL.
pub fn check_role_name(name: &[u8]) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_ROLE_NAME_BYTES {
        return Err(format!(
            "invalid role name: must be 1 to {MAX_ROLE_NAME_BYTES} bytes long"
        ));
    }
    if name.contains(&0) || std::str::from_utf8(name).is_err() {
        return Err("invalid role name: not valid UTF-8 text".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.v2", "a1b", &"a".repeat(63)] {
            assert!(check_bucket_name(ok.as_bytes()).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "ABC",
            "a_b",
            "-ab",
            "ab-",
            "a b",
            "a\0b",
            &"a".repeat(64),
        ] {
            assert!(check_bucket_name(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn object_keys() {
        assert!(check_object_key(b"a").is_ok());
        assert!(check_object_key("ключ/🙂".as_bytes()).is_ok());
        assert!(check_object_key(&[b'k'; 1024]).is_ok());
        assert!(check_object_key(&[b'k'; 1025]).is_err());
        assert!(check_object_key(b"").is_err());
        assert!(check_object_key(&[0xff, 0xfe]).is_err());
    }
}
