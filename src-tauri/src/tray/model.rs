//! The tray's content as plain data: [`model`] turns the tenant list into a [`TrayModel`] (menu
//! entries named by [`MenuId`], tooltip, attention), and [`Recent`] keeps the tenants used lately
//! for a shortened "Switch tenant". Pure and unit-tested without a window or a tray host.

use chrono::{DateTime, Utc};
use vbm365_auth_core::{TenantState, TenantStatus};

/// Every item of the tray menu.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MenuId {
    /// The active-tenant header (disabled).
    Header,
    /// The "Switch tenant" submenu.
    SwitchMenu,
    /// One tenant in "Switch tenant".
    Switch(String),
    RefreshNow,
    CopyToken,
    SignIn,
    ShowWindow,
    /// "More…" at the end of a shortened "Switch tenant": opens the window.
    More,
    Quit,
}

const SWITCH_PREFIX: &str = "switch:";

impl MenuId {
    /// The string id of the native menu item.
    pub fn as_id(&self) -> String {
        match self {
            MenuId::Header => "header".into(),
            MenuId::SwitchMenu => "switch-menu".into(),
            MenuId::Switch(name) => format!("{SWITCH_PREFIX}{name}"),
            MenuId::RefreshNow => "refresh-now".into(),
            MenuId::CopyToken => "copy-token".into(),
            MenuId::SignIn => "sign-in".into(),
            MenuId::ShowWindow => "show-window".into(),
            MenuId::More => "more".into(),
            MenuId::Quit => "quit".into(),
        }
    }

    /// Parses a native menu item id.
    pub fn parse(id: &str) -> Option<MenuId> {
        if let Some(name) = id.strip_prefix(SWITCH_PREFIX) {
            return (!name.is_empty()).then(|| MenuId::Switch(name.to_string()));
        }
        Some(match id {
            "header" => MenuId::Header,
            "switch-menu" => MenuId::SwitchMenu,
            "refresh-now" => MenuId::RefreshNow,
            "copy-token" => MenuId::CopyToken,
            "sign-in" => MenuId::SignIn,
            "show-window" => MenuId::ShowWindow,
            "more" => MenuId::More,
            "quit" => MenuId::Quit,
            _ => return None,
        })
    }
}

/// One entry of the menu model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuEntry {
    Item {
        id: MenuId,
        text: String,
        enabled: bool,
    },
    Check {
        id: MenuId,
        text: String,
        checked: bool,
    },
    Submenu {
        id: MenuId,
        text: String,
        enabled: bool,
        items: Vec<MenuEntry>,
    },
    Separator,
}

/// What the tray shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayModel {
    pub tooltip: String,
    /// A tenant needs sign-in: show the attention icon.
    pub attention: bool,
    pub menu: Vec<MenuEntry>,
}

/// "42 min", "1 h 5 min", "less than 1 min" until `at`, or `None` if past. Minute precision, so
/// the tray menu changes (and is rebuilt) at most once a minute.
pub fn remaining(at: DateTime<Utc>, now: DateTime<Utc>) -> Option<String> {
    let secs = (at - now).num_seconds();
    if secs <= 0 {
        return None;
    }
    Some(match secs {
        s if s < 60 => "less than 1 min".to_string(),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    })
}

/// A tenant's state in a few words.
pub fn describe(t: &TenantStatus, now: DateTime<Utc>) -> String {
    match t.state {
        TenantState::SignedIn => match t.expires_at.and_then(|e| remaining(e, now)) {
            Some(r) => format!("signed in, expires in {r}"),
            None => "signed in".into(),
        },
        TenantState::SignedOut => "signed out".into(),
        TenantState::Expired => "token expired".into(),
        TenantState::SignInRequired => "sign-in required".into(),
        TenantState::Error => "error".into(),
    }
}

/// Most UTF-16 units of a tray tooltip: Windows keeps 128 with the closing NUL
/// (`NOTIFYICONDATAW.szTip`), and the tray crate copies up to 128 without one.
pub const TOOLTIP_MAX_UTF16: usize = 127;

/// `render(name)` within [`TOOLTIP_MAX_UTF16`]: a long tenant name is shortened with "…" so that
/// its state and the sign-in count still show; if even that is too long, the text is cut.
fn fit_tooltip(name: Option<&str>, render: impl Fn(&str) -> String) -> String {
    let fits = |t: &String| t.encode_utf16().count() <= TOOLTIP_MAX_UTF16;
    let full = render(name.unwrap_or_default());
    if fits(&full) {
        return full;
    }
    let chars: Vec<char> = name.unwrap_or_default().chars().collect();
    for keep in (0..chars.len()).rev() {
        let short: String = chars[..keep].iter().chain(['…'].iter()).collect();
        let text = render(&short);
        if fits(&text) {
            return text;
        }
    }
    let mut cut = String::new();
    for c in full.chars() {
        if cut.encode_utf16().count() + c.len_utf16() > TOOLTIP_MAX_UTF16 {
            break;
        }
        cut.push(c);
    }
    cut
}

fn item(id: MenuId, text: &str, enabled: bool) -> MenuEntry {
    MenuEntry::Item {
        id,
        text: text.into(),
        enabled,
    }
}

/// Up to this many tenants, "Switch tenant" lists every one, in the saved order.
pub const SWITCH_ALL_UP_TO: usize = 8;
/// With more tenants, "Switch tenant" lists this many: the active one and the most recently used,
/// then "More…", which opens the window (its filter finds any tenant).
pub const RECENT_SHOWN: usize = 5;
/// How many tenants [`Recent`] remembers.
const RECENT_KEPT: usize = 32;

/// The tenants used lately, most recent first: every tenant this process saw active (switched
/// to from the tray, the window or the CLI), since it started.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recent(Vec<String>);

impl Recent {
    /// `name` was used now.
    pub fn touch(&mut self, name: &str) {
        if self.0.first().map(String::as_str) == Some(name) {
            return;
        }
        self.0.retain(|n| n != name);
        self.0.insert(0, name.to_string());
        self.0.truncate(RECENT_KEPT);
    }

    /// Most recent first.
    pub fn names(&self) -> &[String] {
        &self.0
    }
}

/// The tenants "Switch tenant" lists: all of them when they are few, else the active one and the
/// most recently used ([`RECENT_SHOWN`] in all); and whether some were left out.
fn switch_list<'t>(
    tenants: &'t [TenantStatus],
    recent: &[String],
) -> (Vec<&'t TenantStatus>, bool) {
    if tenants.len() <= SWITCH_ALL_UP_TO {
        return (tenants.iter().collect(), false);
    }
    let mut shown: Vec<&TenantStatus> = tenants.iter().filter(|t| t.active).collect();
    for name in recent {
        if shown.len() >= RECENT_SHOWN {
            break;
        }
        if let Some(t) = tenants
            .iter()
            .find(|t| &t.profile.name == name && !t.active)
        {
            shown.push(t);
        }
    }
    (shown, true)
}

/// The tray for a tenant list (as returned by `Engine::status`), with the tenants used lately
/// (most recent first, see [`Recent`]).
pub fn model(tenants: &[TenantStatus], recent: &[String], now: DateTime<Utc>) -> TrayModel {
    let active = tenants.iter().find(|t| t.active);
    let attention = tenants
        .iter()
        .any(|t| t.state == TenantState::SignInRequired);
    let header = match active {
        Some(t) => format!("{} — {}", t.profile.name, describe(t, now)),
        None => "No active tenant".into(),
    };
    let has_tokens =
        active.is_some_and(|t| matches!(t.state, TenantState::SignedIn | TenantState::Expired));
    let menu = vec![
        item(MenuId::Header, &header, false),
        MenuEntry::Separator,
        switch_menu(tenants, recent),
        item(MenuId::RefreshNow, "Refresh now", has_tokens),
        item(MenuId::CopyToken, "Copy access token", has_tokens),
        item(MenuId::SignIn, "Sign in…", active.is_some()),
        MenuEntry::Separator,
        item(MenuId::ShowWindow, "Show window", true),
        item(MenuId::Quit, "Quit", true),
    ];
    TrayModel {
        tooltip: tooltip(tenants, active, now),
        attention,
        menu,
    }
}

/// The tooltip: the active tenant and its state, and how many tenants need sign-in.
fn tooltip(tenants: &[TenantStatus], active: Option<&TenantStatus>, now: DateTime<Utc>) -> String {
    let needing = tenants
        .iter()
        .filter(|t| t.state == TenantState::SignInRequired)
        .count();
    fit_tooltip(active.map(|t| t.profile.name.as_str()), |name| {
        let tooltip = match active {
            Some(t) => format!("VBM365 Auth\n{name}: {}", describe(t, now)),
            None if tenants.is_empty() => "VBM365 Auth\nno tenant saved".into(),
            None => "VBM365 Auth\nno active tenant".into(),
        };
        if needing > 0 {
            format!("{tooltip}\n{needing} tenant(s) need sign-in")
        } else {
            tooltip
        }
    })
}

/// The "Switch tenant" submenu: the tenants of [`switch_list`], the active one checked, and
/// "More…" when some were left out.
fn switch_menu(tenants: &[TenantStatus], recent: &[String]) -> MenuEntry {
    let (listed, more) = switch_list(tenants, recent);
    let mut switch_items: Vec<MenuEntry> = listed
        .iter()
        .map(|t| MenuEntry::Check {
            id: MenuId::Switch(t.profile.name.clone()),
            text: t.profile.name.clone(),
            checked: t.active,
        })
        .collect();
    if more {
        switch_items.push(MenuEntry::Separator);
        switch_items.push(item(
            MenuId::More,
            &format!("More… (all {} tenants)", tenants.len()),
            true,
        ));
    }
    MenuEntry::Submenu {
        id: MenuId::SwitchMenu,
        text: "Switch tenant".into(),
        enabled: !switch_items.is_empty(),
        items: switch_items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use vbm365_auth_core::TenantProfile;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    fn tenant(name: &str, active: bool, state: TenantState, mins: i64) -> TenantStatus {
        TenantStatus {
            profile: TenantProfile::new(name, "https://vbm.example:4443").unwrap(),
            active,
            state,
            expires_at: (state == TenantState::SignedIn)
                .then(|| now() + chrono::Duration::minutes(mins)),
            user_name: None,
            detail: None,
        }
    }

    fn find<'a>(entries: &'a [MenuEntry], want: &MenuId) -> Option<&'a MenuEntry> {
        entries.iter().find_map(|e| match e {
            MenuEntry::Item { id, .. } | MenuEntry::Check { id, .. } if id == want => Some(e),
            MenuEntry::Submenu { id, items, .. } => {
                if id == want {
                    Some(e)
                } else {
                    find(items, want)
                }
            }
            _ => None,
        })
    }

    #[test]
    fn ids_round_trip() {
        for id in [
            MenuId::Header,
            MenuId::SwitchMenu,
            MenuId::Switch("contoso.onmicrosoft.com".into()),
            MenuId::RefreshNow,
            MenuId::CopyToken,
            MenuId::SignIn,
            MenuId::ShowWindow,
            MenuId::More,
            MenuId::Quit,
        ] {
            assert_eq!(MenuId::parse(&id.as_id()), Some(id));
        }
        assert_eq!(MenuId::parse("switch:"), None);
        assert_eq!(MenuId::parse("nope"), None);
    }

    #[test]
    fn menu_lists_every_tenant_with_the_active_one_checked() {
        let tenants = vec![
            tenant("a.example", false, TenantState::SignedOut, 0),
            tenant("b.example", true, TenantState::SignedIn, 42),
        ];
        let m = model(&tenants, &[], now());
        let Some(MenuEntry::Submenu { items, enabled, .. }) = find(&m.menu, &MenuId::SwitchMenu)
        else {
            panic!("no switch submenu: {m:?}")
        };
        assert!(enabled);
        assert_eq!(
            items,
            &vec![
                MenuEntry::Check {
                    id: MenuId::Switch("a.example".into()),
                    text: "a.example".into(),
                    checked: false
                },
                MenuEntry::Check {
                    id: MenuId::Switch("b.example".into()),
                    text: "b.example".into(),
                    checked: true
                },
            ]
        );
        assert_eq!(
            m.menu[0],
            item(
                MenuId::Header,
                "b.example — signed in, expires in 42 min",
                false
            )
        );
        assert!(m
            .tooltip
            .contains("b.example: signed in, expires in 42 min"));
        assert!(!m.attention);
        for id in [MenuId::RefreshNow, MenuId::CopyToken, MenuId::SignIn] {
            assert!(matches!(
                find(&m.menu, &id),
                Some(MenuEntry::Item { enabled: true, .. })
            ));
        }
        let order: Vec<_> = m
            .menu
            .iter()
            .filter_map(|e| match e {
                MenuEntry::Item { id, .. } | MenuEntry::Submenu { id, .. } => Some(id.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            order,
            vec![
                MenuId::Header,
                MenuId::SwitchMenu,
                MenuId::RefreshNow,
                MenuId::CopyToken,
                MenuId::SignIn,
                MenuId::ShowWindow,
                MenuId::Quit
            ]
        );
    }

    #[test]
    fn attention_when_a_tenant_needs_sign_in_and_actions_follow_state() {
        let tenants = vec![
            tenant("a.example", true, TenantState::SignedOut, 0),
            tenant("b.example", false, TenantState::SignInRequired, 0),
        ];
        let m = model(&tenants, &[], now());
        assert!(m.attention);
        assert!(
            m.tooltip.contains("1 tenant(s) need sign-in"),
            "{}",
            m.tooltip
        );
        for id in [MenuId::RefreshNow, MenuId::CopyToken] {
            assert!(matches!(
                find(&m.menu, &id),
                Some(MenuEntry::Item { enabled: false, .. })
            ));
        }
        assert!(matches!(
            find(&m.menu, &MenuId::SignIn),
            Some(MenuEntry::Item { enabled: true, .. })
        ));
    }

    #[test]
    fn a_long_tenant_name_is_shortened_to_fit_the_windows_tooltip() {
        let long = format!("{}.{}.onmicrosoft.com", "a".repeat(60), "b".repeat(50));
        let tenants = vec![
            tenant(&long, true, TenantState::SignedIn, 42),
            tenant("b.example", false, TenantState::SignInRequired, 0),
        ];
        let t = model(&tenants, &[], now()).tooltip;
        assert!(t.encode_utf16().count() <= TOOLTIP_MAX_UTF16, "{t}");
        assert!(
            t.starts_with(&format!("VBM365 Auth\n{}", "a".repeat(20))),
            "{t}"
        );
        assert!(t.contains("…: signed in, expires in 42 min\n"), "{t}");
        assert!(t.ends_with("1 tenant(s) need sign-in"), "{t}");
        // A short name stays whole; text that cannot fit even without the name is cut.
        let t = model(
            &[tenant("a.example", true, TenantState::SignedIn, 42)],
            &[],
            now(),
        )
        .tooltip;
        assert_eq!(t, "VBM365 Auth\na.example: signed in, expires in 42 min");
        let cut = fit_tooltip(None, |_| "é".repeat(200));
        assert_eq!(cut, "é".repeat(TOOLTIP_MAX_UTF16));
        let cut = fit_tooltip(None, |_| "🔑".repeat(100));
        assert_eq!(cut, "🔑".repeat(TOOLTIP_MAX_UTF16 / 2));
    }

    /// The labels of "Switch tenant" ("---" for a separator).
    fn switch_labels(m: &TrayModel) -> Vec<String> {
        let Some(MenuEntry::Submenu { items, .. }) = find(&m.menu, &MenuId::SwitchMenu) else {
            panic!("no switch submenu: {m:?}")
        };
        items
            .iter()
            .map(|e| match e {
                MenuEntry::Item { text, .. } | MenuEntry::Check { text, .. } => text.clone(),
                MenuEntry::Separator => "---".into(),
                MenuEntry::Submenu { text, .. } => text.clone(),
            })
            .collect()
    }

    #[test]
    fn many_tenants_switch_list_shows_the_active_and_the_recent_ones_then_more() {
        let names: Vec<String> = (0..500).map(|i| format!("t{i:03}.example")).collect();
        let tenants: Vec<TenantStatus> = names
            .iter()
            .enumerate()
            .map(|(i, n)| tenant(n, i == 7, TenantState::SignedOut, 0))
            .collect();
        // Used lately, most recent first: the active one, two others, one that was removed since.
        let mut recent = Recent::default();
        for n in [
            "t100.example",
            "gone.example",
            "t042.example",
            "t007.example",
        ] {
            recent.touch(n);
        }
        recent.touch("t042.example"); // used again: moves to the front, once
        assert_eq!(
            recent.names(),
            [
                "t042.example",
                "t007.example",
                "gone.example",
                "t100.example"
            ]
        );
        let m = model(&tenants, recent.names(), now());
        assert_eq!(
            switch_labels(&m),
            [
                "t007.example",
                "t042.example",
                "t100.example",
                "---",
                "More… (all 500 tenants)"
            ]
        );
        assert!(matches!(
            find(&m.menu, &MenuId::More),
            Some(MenuEntry::Item { enabled: true, .. })
        ));
        // At most RECENT_SHOWN tenants before "More…".
        let mut busy = Recent::default();
        for n in names.iter().take(40) {
            busy.touch(n);
        }
        let labels = switch_labels(&model(&tenants, busy.names(), now()));
        assert_eq!(labels.len(), RECENT_SHOWN + 2, "{labels:?}");
        assert_eq!(labels[0], "t007.example", "the active one first");
        assert_eq!(labels[1], "t039.example", "then the most recent");
        assert_eq!(busy.names().len(), RECENT_KEPT);
        // Few tenants: all of them, in the saved order, and no "More…".
        let few = &tenants[..SWITCH_ALL_UP_TO];
        assert_eq!(
            switch_labels(&model(few, busy.names(), now())),
            names[..SWITCH_ALL_UP_TO].to_vec()
        );
    }

    #[test]
    fn empty_state_has_a_disabled_switch_menu() {
        let m = model(&[], &[], now());
        assert!(m.tooltip.contains("no tenant saved"));
        assert!(matches!(
            find(&m.menu, &MenuId::SwitchMenu),
            Some(MenuEntry::Submenu { enabled: false, .. })
        ));
        assert!(matches!(
            find(&m.menu, &MenuId::SignIn),
            Some(MenuEntry::Item { enabled: false, .. })
        ));
    }

    #[test]
    fn remaining_time_reads_well() {
        let n = now();
        assert_eq!(
            remaining(n + chrono::Duration::seconds(30), n).as_deref(),
            Some("less than 1 min")
        );
        assert_eq!(
            remaining(n + chrono::Duration::seconds(3900), n).as_deref(),
            Some("1 h 5 min")
        );
        assert_eq!(remaining(n - chrono::Duration::seconds(1), n), None);
    }
}
