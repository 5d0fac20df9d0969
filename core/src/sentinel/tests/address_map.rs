//! The address map: announced addresses are dialled where the map says, messages name both,
//! and a configured sentinel announced under its mapped address is not added twice.

use super::*;
use crate::sentinel::{AddressMap, AddressRule};

fn mapped_cfg() -> Config {
    let mut c = T::cfg(1);
    c.address_map = AddressMap::new([
        "10.0.0.1:6379=>127.0.0.1:7001"
            .parse::<AddressRule>()
            .unwrap(),
        AddressRule::addr(addr("172.16.0.1:26379"), sentinels(1)[0].clone()),
    ]);
    c
}

#[test]
fn the_master_is_dialled_where_the_map_says_and_named_as_announced() {
    let mut t = T::new(mapped_cfg());
    let o = t.out();
    let (q, _, _) = connects(&o)[0].clone();
    let o = t.connected(q);
    let s = sent(&o, q);
    let o = t.answer(q, &s, &arr(&["10.0.0.1", "6379"]));
    let (d, dial) = connect_of(&o, PeerKind::Data(Role::Master)).expect("data connect");
    assert_eq!(dial, addr("127.0.0.1:7001"));
    assert!(events(&o).contains(&Event::Connecting {
        addr: addr("10.0.0.1:6379"),
        dialed: Some(addr("127.0.0.1:7001")),
        role: Role::Master,
    }));
    let o = t.verify(d, ROLE_MASTER);
    assert!(events(&o).contains(&Event::Ready {
        addr: addr("10.0.0.1:6379"),
        dialed: Some(addr("127.0.0.1:7001")),
        role: Role::Master,
    }));
    assert_eq!(
        t.m.current_node().map(|(a, _)| a.clone()),
        Some(addr("10.0.0.1:6379"))
    );
    assert_eq!(
        t.m.ready_event(),
        Some(Event::Ready {
            addr: addr("10.0.0.1:6379"),
            dialed: Some(addr("127.0.0.1:7001")),
            role: Role::Master,
        })
    );
}

#[test]
fn messages_about_a_mapped_node_name_both_addresses() {
    let mut t = T::new(mapped_cfg());
    let d = {
        let o = t.out();
        let (q, _, _) = connects(&o)[0].clone();
        let o = t.connected(q);
        let s = sent(&o, q);
        let o = t.answer(q, &s, &arr(&["10.0.0.1", "6379"]));
        connect_of(&o, PeerKind::Data(Role::Master)).unwrap().0
    };
    let o = t.verify(d, ROLE_SLAVE);
    let errors: Vec<String> = events(&o)
        .into_iter()
        .filter_map(|e| match e {
            Event::Error(s) => Some(s),
            _ => None,
        })
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("10.0.0.1:6379 (dialled at 127.0.0.1:7001)")),
        "{errors:?}"
    );
}

#[test]
fn a_configured_sentinel_announced_under_its_mapped_address_is_not_added_again() {
    let mut t = T::new(mapped_cfg());
    let o = t.out();
    let (q, _, _) = connects(&o)[0].clone();
    let o = t.connected(q);
    let s = sent(&o, q);
    assert!(
        s.contains("sentinels"),
        "the first walk lists the sentinels: {s}"
    );
    let mut r = arr(&["10.0.0.1", "6379"]);
    if s.contains(&arr(&["SENTINEL", "MASTER", "svc"])) {
        r += &info(0);
    }
    // The seed is announced under the address its own network sees, beside one other sentinel.
    let s1 = arr(&["ip", "172.16.0.1", "port", "26379", "flags", "sentinel"]);
    let s2 = arr(&["ip", "172.16.0.2", "port", "26379", "flags", "sentinel"]);
    r += &format!("*2\r\n{s1}{s2}");
    let o = t.feed(q, &r);
    let added: Vec<Event> = events(&o)
        .into_iter()
        .filter(|e| matches!(e, Event::SentinelAdded(_)))
        .collect();
    assert_eq!(added, [Event::SentinelAdded(addr("172.16.0.2:26379"))]);
    let mut list = t.m.sentinels().to_vec();
    list.sort();
    assert_eq!(list, [addr("172.16.0.2:26379"), sentinels(1)[0].clone()]);
}
