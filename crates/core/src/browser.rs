//! Opening the sign-in page. Only a [`Url`] that passed [`crate::validate::verification_uri`] is
//! accepted (see [`crate::session::PendingSignIn::openable_uri`]).

use crate::error::{Error, Result};
use url::Url;

/// Opens the URL in the default browser (xdg-open, gio, … on Linux).
pub fn open_verification_uri(url: &Url) -> Result<()> {
    let checked = crate::validate::verification_uri(url.as_str())?;
    open::that(checked.as_str()).map_err(|e| Error::BrowserUnavailable {
        url: checked.to_string(),
        detail: e.to_string(),
    })
}
