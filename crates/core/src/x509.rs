//! The one thing the product reads from a certificate besides its fingerprint: when it stops being
//! valid (`notAfter`), for the status check's "days until the certificate expires". Parsed with the
//! RustCrypto `x509-cert` crate (RFC 5280 §4.1); anything it cannot read gives `None`.

use chrono::{DateTime, Utc};
use x509_cert::der::Decode;

/// When the certificate (DER) expires: its `notAfter`.
pub fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let after = cert.tbs_certificate.validity.not_after.to_unix_duration();
    DateTime::from_timestamp(i64::try_from(after.as_secs()).ok()?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_emulators_certificate_expires_in_about_a_year() {
        let emu = vbm365_emulator::Emulators::start(Default::default())
            .await
            .unwrap();
        let end = not_after(&emu.cert_der()).expect("notAfter");
        let days = (end - Utc::now()).num_days();
        assert!((363..=366).contains(&days), "{days}");
    }

    /// A self-signed certificate valid until `year`-06-30 12:00 UTC (RFC 5280 writes years from
    /// 2050 on as GeneralizedTime, earlier ones as UTCTime).
    fn until(year: i32) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["vbm.example".into()]).unwrap();
        params.not_after =
            rcgen::date_time_ymd(year, 6, 30) + std::time::Duration::from_secs(12 * 3600);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn both_time_forms_and_garbage() {
        for year in [2030, 2099] {
            let at = format!("{year}-06-30T12:00:00Z").parse().unwrap();
            assert_eq!(not_after(&until(year)), Some(at), "{year}");
        }
        let cert = until(2030);
        assert_eq!(not_after(&cert[..cert.len() - 3]), None, "cut off");
        assert_eq!(not_after(b"\x30\x84\xff\xff\xff\xff"), None);
        assert_eq!(not_after(b""), None);
    }
}
