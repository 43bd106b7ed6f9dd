//! Config directories as people have them: spaces and letters outside ASCII in the path (on
//! Windows the user's profile, e.g. `C:\Users\Jürgen Ødegård\AppData\Roaming\vbm365-auth`), through
//! the real CLI on every platform.

mod common;

use common::{Env, TENANT};

#[tokio::test(flavor = "multi_thread")]
async fn a_config_dir_with_spaces_and_non_ascii_letters_works_end_to_end() {
    let env = Env {
        dir: tempfile::Builder::new()
            .prefix("Jürgen Ødegård – App Data ")
            .tempdir()
            .unwrap(),
        ..Env::new().await
    };
    assert!(env
        .config_dir()
        .to_str()
        .unwrap()
        .contains("Jürgen Ødegård – App Data"));
    env.signed_in(TENANT, "v8").await;
    assert_eq!(env.state(), "signed_in");
    // Other processes read what the first wrote there: config, vault (its key in the keyring)
    // and the lock files.
    let token = env.run(&["token"]).ok().stdout;
    assert!(!token.trim().is_empty());
    assert_eq!(env.run(&["token"]).ok().stdout, token);
    env.run(&["refresh"]).ok();
    let renewed = env.run(&["token"]).ok().stdout;
    assert_ne!(
        renewed, token,
        "the refreshed token was stored and read back"
    );
    for file in ["config.json", "vault.bin"] {
        assert!(env.config_dir().join(file).is_file(), "{file}");
    }
    assert!(env.config_dir().join("locks").is_dir());
}
