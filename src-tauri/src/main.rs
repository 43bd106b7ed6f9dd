fn main() { vbm365_auth_app::run() }
