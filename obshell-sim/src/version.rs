//! The emulated obshell version and the behaviour differences it selects.

use std::fmt;
use std::str::FromStr;

/// An obshell version such as `4.2.4.0`, compared component by component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObshellVersion([u32; 4]);

/// The error for a version string that is not four dot-separated numbers.
#[derive(Debug, thiserror::Error)]
#[error("invalid obshell version {0:?}: expected four dot-separated numbers such as 4.5.0.0")]
pub struct VersionParseError(String);

impl ObshellVersion {
    /// Builds a version from its four components.
    pub const fn new(major: u32, minor: u32, patch: u32, build: u32) -> Self {
        Self([major, minor, patch, build])
    }

    /// The oldest version the simulator emulates: the first with the backup APIs.
    pub const MIN_SUPPORTED: Self = Self::new(4, 2, 4, 0);

    /// True before 4.3.1.0: errors carry an integer `code` and no `errCode`.
    pub(crate) fn legacy_errors(self) -> bool {
        self < Self::new(4, 3, 1, 0)
    }

    /// The RSA modulus size: 1024 bits from 4.4.2.0, 512 bits before.
    pub(crate) fn rsa_bits(self) -> usize {
        if self >= Self::new(4, 4, 2, 0) {
            1024
        } else {
            512
        }
    }

    /// True from 4.3.2.0: the tenant storage and archive-task reads exist and SUSPEND is accepted.
    pub(crate) fn has_backup_reads(self) -> bool {
        self >= Self::new(4, 3, 2, 0)
    }

    /// True from 4.2.5.0: `/api/v1/info` carries `security`, `supportedAuth` and `isObproxyAgent`.
    pub(crate) fn info_has_auth_fields(self) -> bool {
        self >= Self::new(4, 2, 5, 0)
    }

    /// True up to 4.2.6.x: `GET /tenant/{name}` refuses tenants that are not NORMAL.
    pub(crate) fn tenant_get_checks_status(self) -> bool {
        self < Self::new(4, 3, 0, 0)
    }
}

impl FromStr for ObshellVersion {
    type Err = VersionParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.trim().split('.').collect();
        if parts.len() != 4 {
            return Err(VersionParseError(text.to_owned()));
        }
        let mut numbers = [0u32; 4];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            *slot = part
                .parse()
                .map_err(|_| VersionParseError(text.to_owned()))?;
        }
        Ok(Self(numbers))
    }
}

impl fmt::Display for ObshellVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_orders_and_selects_features() {
        let old: ObshellVersion = "4.2.4.0".parse().unwrap();
        let new: ObshellVersion = "4.5.0.0".parse().unwrap();
        assert!(old < new);
        assert_eq!(old.to_string(), "4.2.4.0");
        assert!(old.legacy_errors() && !new.legacy_errors());
        assert_eq!(old.rsa_bits(), 512);
        assert_eq!(new.rsa_bits(), 1024);
        assert_eq!("4.4.1.1".parse::<ObshellVersion>().unwrap().rsa_bits(), 512);
        assert!(!"4.3.1.0"
            .parse::<ObshellVersion>()
            .unwrap()
            .has_backup_reads());
        assert!("4.3.2.0"
            .parse::<ObshellVersion>()
            .unwrap()
            .has_backup_reads());
        assert!("4.3.0.9".parse::<ObshellVersion>().unwrap().legacy_errors());
        assert!(!old.info_has_auth_fields());
        assert!("4.2.5.0"
            .parse::<ObshellVersion>()
            .unwrap()
            .info_has_auth_fields());
        assert!("4.5".parse::<ObshellVersion>().is_err());
        assert!("4.5.x.0".parse::<ObshellVersion>().is_err());
    }
}
