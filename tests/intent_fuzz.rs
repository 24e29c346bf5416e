//! The intent parser never panics, and every rejection carries a reason; accepted lines
//! round-trip through their canonical form.

use proptest::prelude::*;
use sharefs::control::Intent;

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("read".to_string()),
        Just("write".to_string()),
        Just("delete".to_string()),
        Just("none".to_string()),
        Just("delete_on_close".to_string()),
        Just("write_through".to_string()),
        Just("atomic".to_string()),
        "[a-z_]{0,8}",
    ]
}

fn token() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("access"),
            Just("share"),
            Just("options"),
            Just("bogus")
        ],
        prop::collection::vec(word(), 0..4),
    )
        .prop_map(|(k, ws)| format!("{k}={}", ws.join(",")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..5000)) {
        match Intent::parse(&bytes) {
            Ok(intent) => {
                // An accepted line is canonicalised losslessly.
                let again = Intent::parse(intent.to_line().as_bytes()).unwrap();
                prop_assert_eq!(again, intent);
            }
            Err(e) => prop_assert!(!e.0.is_empty()),
        }
    }

    #[test]
    fn structured_lines_parse_or_explain(tokens in prop::collection::vec(token(), 0..5)) {
        let line = tokens.join(" ");
        match Intent::parse(line.as_bytes()) {
            Ok(intent) => {
                let again = Intent::parse(intent.to_line().as_bytes()).unwrap();
                prop_assert_eq!(again, intent);
            }
            Err(e) => prop_assert!(!e.0.is_empty(), "{}", line),
        }
    }
}
