//! The tray icon of an app as a tray host sees it over the session bus: the StatusNotifierItem
//! the app exports under /org/ayatana/NotificationItem and its `com.canonical.dbusmenu` menu
//! (`GetLayout`, `Event <id> "clicked"`). The app has no well-known bus name: its connection is
//! found by the process id.

use std::collections::HashMap;
use std::time::{Duration, Instant};
use zbus::zvariant::{OwnedValue, Value as DValue};

const SNI_ROOT: &str = "/org/ayatana/NotificationItem";
const SNI: &str = "org.kde.StatusNotifierItem";
const DBUSMENU: &str = "com.canonical.dbusmenu";

/// One dbusmenu item as `GetLayout` gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct MenuNode {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
    pub separator: bool,
    /// `Some(checked)` for check items.
    pub toggle: Option<bool>,
    pub children: Vec<MenuNode>,
}

impl MenuNode {
    /// The first item (depth first) with this label.
    pub fn find(&self, label: &str) -> Option<&MenuNode> {
        if self.label == label {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(label))
    }

    /// Like [`MenuNode::find`], panicking with the whole menu when missing.
    pub fn item(&self, label: &str) -> &MenuNode {
        self.find(label)
            .unwrap_or_else(|| panic!("no '{label}' in the tray menu: {self:#?}"))
    }

    /// The check items of "Switch tenant": (label, checked).
    pub fn tenants(&self) -> Vec<(String, bool)> {
        self.item("Switch tenant")
            .children
            .iter()
            .map(|c| (c.label.clone(), c.toggle == Some(true)))
            .collect()
    }

    /// Labels of the top-level items, separators as "---".
    pub fn top_labels(&self) -> Vec<String> {
        self.children
            .iter()
            .map(|c| {
                if c.separator {
                    "---".to_string()
                } else {
                    c.label.clone()
                }
            })
            .collect()
    }
}

fn inner<'a, 'b>(v: &'b DValue<'a>) -> &'b DValue<'a> {
    match v {
        DValue::Value(boxed) => inner(boxed),
        other => other,
    }
}

fn node(id: i32, props: Vec<(String, &DValue<'_>)>, children: &[&DValue<'_>]) -> MenuNode {
    let mut n = MenuNode {
        id,
        label: String::new(),
        enabled: true,
        separator: false,
        toggle: None,
        children: children.iter().map(|c| node_of(c)).collect(),
    };
    let mut toggle_type = false;
    let mut toggle_state = None;
    for (key, value) in props {
        match (key.as_str(), inner(value)) {
            ("label", DValue::Str(s)) => n.label = s.to_string(),
            ("enabled", DValue::Bool(b)) => n.enabled = *b,
            ("type", DValue::Str(s)) => n.separator = s.as_str() == "separator",
            ("toggle-type", DValue::Str(s)) => toggle_type = !s.as_str().is_empty(),
            ("toggle-state", DValue::I32(i)) => toggle_state = Some(*i == 1),
            _ => {}
        }
    }
    if toggle_type {
        n.toggle = Some(toggle_state.unwrap_or(false));
    }
    n
}

/// A `(ia{sv}av)` item.
fn node_of(v: &DValue<'_>) -> MenuNode {
    let DValue::Structure(s) = inner(v) else {
        panic!("menu item is not a structure: {v:?}")
    };
    let (DValue::I32(id), DValue::Dict(props), DValue::Array(children)) =
        (&s.fields()[0], &s.fields()[1], &s.fields()[2])
    else {
        panic!("unexpected menu item layout: {v:?}")
    };
    let props = props
        .iter()
        .filter_map(|(k, v)| match inner(k) {
            DValue::Str(k) => Some((k.to_string(), v)),
            _ => None,
        })
        .collect();
    let children: Vec<&DValue<'_>> = children.inner().iter().collect();
    node(*id, props, &children)
}

/// The app's tray menu, reached over the session bus.
pub struct TrayMenu {
    conn: zbus::blocking::Connection,
    /// The app's unique bus name (it has no well-known one).
    pub dest: String,
    /// Path of the StatusNotifierItem.
    pub item: String,
    /// Path of its dbusmenu.
    pub menu: String,
}

impl TrayMenu {
    /// Finds the tray of process `pid`: among its bus connections, the one that exports a
    /// StatusNotifierItem under /org/ayatana/NotificationItem; its `Menu` property names the
    /// dbusmenu object. Looks for at most `within`, calling `check` before each look (to stop
    /// early when the process is gone, say).
    pub fn find(pid: u32, within: Duration, mut check: impl FnMut()) -> Result<TrayMenu, String> {
        // Some connections of the app's process (GLib's, the a11y bus's) never answer calls to
        // unknown objects: every call gets a timeout.
        let conn = zbus::blocking::connection::Builder::session()
            .and_then(|b| b.method_timeout(Duration::from_secs(2)).build())
            .map_err(|e| format!("session bus: {e}"))?;
        let deadline = Instant::now() + within;
        loop {
            check();
            if let Some((dest, item, menu)) = Self::lookup(&conn, pid) {
                return Ok(TrayMenu {
                    conn,
                    dest,
                    item,
                    menu,
                });
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no StatusNotifierItem of pid {pid} on the session bus after {within:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn bus_call<B, R>(conn: &zbus::blocking::Connection, method: &str, body: &B) -> Option<R>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
        R: for<'d> zbus::zvariant::DynamicDeserialize<'d>,
    {
        let reply = conn
            .call_method(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                Some("org.freedesktop.DBus"),
                method,
                body,
            )
            .ok()?;
        reply.body().deserialize::<R>().ok()
    }

    fn lookup(conn: &zbus::blocking::Connection, pid: u32) -> Option<(String, String, String)> {
        let names: Vec<String> = Self::bus_call(conn, "ListNames", &())?;
        for name in names.into_iter().filter(|n| n.starts_with(':')) {
            let owner: Option<u32> =
                Self::bus_call(conn, "GetConnectionUnixProcessID", &(name.as_str(),));
            if owner != Some(pid) {
                continue;
            }
            let Ok(reply) = conn.call_method(
                Some(name.as_str()),
                SNI_ROOT,
                Some("org.freedesktop.DBus.Introspectable"),
                "Introspect",
                &(),
            ) else {
                continue;
            };
            let Ok(xml) = reply.body().deserialize::<String>() else {
                continue;
            };
            for child in child_nodes(&xml) {
                let item = format!("{SNI_ROOT}/{child}");
                let Ok(reply) = conn.call_method(
                    Some(name.as_str()),
                    item.as_str(),
                    Some("org.freedesktop.DBus.Properties"),
                    "Get",
                    &(SNI, "Menu"),
                ) else {
                    continue;
                };
                let Ok(v) = reply.body().deserialize::<OwnedValue>() else {
                    continue;
                };
                if let DValue::ObjectPath(p) = inner(&v) {
                    return Some((name.clone(), item, p.to_string()));
                }
            }
        }
        None
    }

    /// A property of the StatusNotifierItem, e.g. `Status` or `IconName`.
    pub fn item_property(&self, name: &str) -> OwnedValue {
        let reply = self
            .conn
            .call_method(
                Some(self.dest.as_str()),
                self.item.as_str(),
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &(SNI, name),
            )
            .unwrap_or_else(|e| panic!("Get {name}: {e}"));
        reply.body().deserialize::<OwnedValue>().expect("property")
    }

    /// `GetLayout(0, -1, [])`: the revision and the whole menu.
    pub fn layout(&self) -> (u32, MenuNode) {
        let reply = self
            .conn
            .call_method(
                Some(self.dest.as_str()),
                self.menu.as_str(),
                Some(DBUSMENU),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .expect("GetLayout");
        type Layout = (u32, (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>));
        let (revision, (id, props, children)): Layout = reply.body().deserialize().expect("layout");
        let props = props.iter().map(|(k, v)| (k.clone(), &**v)).collect();
        let children: Vec<&DValue<'_>> = children.iter().map(|c| &**c).collect();
        (revision, node(id, props, &children))
    }

    /// The menu only.
    pub fn menu(&self) -> MenuNode {
        self.layout().1
    }

    /// Clicks an item, as a tray host does (`Event(id, "clicked", 0, 0)`).
    pub fn click(&self, id: i32) {
        self.conn
            .call_method(
                Some(self.dest.as_str()),
                self.menu.as_str(),
                Some(DBUSMENU),
                "Event",
                &(id, "clicked", DValue::from(0i32), 0u32),
            )
            .expect("Event clicked");
    }

    /// Re-reads the menu until `ok` holds for it, for at most `within`.
    pub fn wait_menu(
        &self,
        what: &str,
        within: Duration,
        ok: impl Fn(&MenuNode) -> bool,
    ) -> MenuNode {
        let deadline = Instant::now() + within;
        loop {
            let m = self.menu();
            if ok(&m) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "tray menu: {what} not seen after {within:?}; last menu: {m:#?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Names of the direct child `<node name="...">` elements of an introspection document.
fn child_nodes(xml: &str) -> Vec<String> {
    xml.split("<node name=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}
