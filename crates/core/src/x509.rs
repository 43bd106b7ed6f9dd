//! The one thing the product reads from a certificate besides its fingerprint: when it stops being
//! valid (`notAfter`), for the status check's "days until the certificate expires". A few lines
//! of DER walking (RFC 5280 §4.1), not a certificate parser: anything unexpected gives `None`.

use chrono::{DateTime, NaiveDateTime, Utc};

/// One DER element: its tag, its contents and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// When the certificate (DER) expires: its `notAfter`.
pub fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    let (SEQUENCE, cert, _) = element(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = element(cert)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] version (optional), serialNumber, signature, issuer, then validity.
    let (tag, _, after) = element(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    for _ in 0..3 {
        rest = element(rest)?.2;
    }
    let (SEQUENCE, validity, _) = element(rest)? else {
        return None;
    };
    let (_, _, after_not_before) = element(validity)?;
    let (tag, time, _) = element(after_not_before)?;
    let text = std::str::from_utf8(time).ok()?;
    let text = text.strip_suffix('Z')?;
    let full = match tag {
        // RFC 5280: YY >= 50 is 19YY, else 20YY.
        UTC_TIME if text.len() == 12 => {
            let yy: u32 = text[..2].parse().ok()?;
            format!("{}{text}", if yy >= 50 { "19" } else { "20" })
        }
        GENERALIZED_TIME if text.len() == 14 => text.to_string(),
        _ => return None,
    };
    NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%S")
        .ok()
        .map(|t| t.and_utc())
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

    #[test]
    fn both_time_forms_and_garbage() {
        // SEQUENCE { SEQUENCE { INTEGER 1, SEQUENCE {}, SEQUENCE {}, SEQUENCE { UTCTime, GeneralizedTime } } }
        let not_before = b"\x17\x0d250101000000Z";
        let until = b"\x18\x0f20990630120000Z";
        let mut validity = vec![0x30, (not_before.len() + until.len()) as u8];
        validity.extend_from_slice(not_before);
        validity.extend_from_slice(until);
        let mut tbs_body = vec![0x02, 0x01, 0x01, 0x30, 0x00, 0x30, 0x00];
        tbs_body.extend_from_slice(&validity);
        let mut tbs = vec![0x30, tbs_body.len() as u8];
        tbs.extend_from_slice(&tbs_body);
        let mut cert = vec![0x30, tbs.len() as u8];
        cert.extend_from_slice(&tbs);
        assert_eq!(
            not_after(&cert),
            Some("2099-06-30T12:00:00Z".parse().unwrap())
        );
        assert_eq!(not_after(&cert[..cert.len() - 3]), None);
        assert_eq!(not_after(b"\x30\x84\xff\xff\xff\xff"), None);
        assert_eq!(not_after(b""), None);
    }
}
