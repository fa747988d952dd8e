use super::*;
use crate::encode::{Frame, State, encode_context};

#[test]
fn lines_are_told_apart_by_what_their_next_line_turns_on() {
    let source =
        "x = 7\nif x * 5 < 13 // 2:\n    s = 'a - b'\nif x < -3:\n    y = x - 1\nfor i in range(3):\n    t = 'a < b'\n";
    let example = |line: u32| {
        let frame = Frame { function: "<module>".into(), depth: 1, line, locals: vec![("x".into(), "7".into())] };
        let state = State {
            event: Event::Line,
            line,
            from: 0,
            stack: vec![frame],
            stdout_tail: String::new(),
            stdin: String::new(),
        };
        Example::query(encode_context(source, &state, 1))
    };
    let at = |line: u32| line_kind(&example(line));
    assert_eq!(at(2), "compares, computes");
    assert_eq!(at(4), "compares", "a negative literal's sign is not arithmetic");
    assert_eq!(at(5), "other", "arithmetic without a comparison");
    assert_eq!(at(3), "other", "operators inside a string do not count");
    assert_eq!(at(6), "loop head");
    assert_eq!(at(7), "other", "a comparison inside a string does not count");
    let (code, read) = example(2).current_code();
    assert_eq!((code.as_str(), read.as_str()), ("if x * 5 < 13 // 2:", "if 7 * 5 < 13 // 2:"));
}

#[test]
fn value_types_are_read_off_reprs() {
    let cases = [
        ("'a'", "str"),
        ("[1]", "list"),
        ("{}", "dict"),
        ("(1,)", "tuple"),
        ("True", "bool"),
        ("None", "None"),
        ("-12", "int"),
        ("2.5", "float"),
        ("<function f>", "other"),
    ];
    for (repr, ty) in cases {
        assert_eq!(value_type(repr), ty, "{repr}");
    }
}

#[test]
fn the_table_heads_a_split_only_when_it_has_rows() {
    let empty = format_report("none", &EvalReport::default());
    assert!(!empty.contains("by the true action") && !empty.contains("by the line"), "{empty}");
    let mut r = EvalReport::default();
    r.delta_exact_by_kind.insert("return".into(), (0.5, 4));
    r.action_accuracy_by_line.insert("loop head".into(), (0.25, 8));
    let table = format_report("some", &r);
    assert!(table.contains("    by the true action:\n    return       (    4 transitions) 0.500\n"), "{table}");
    assert!(table.contains("    by the line it is decided at:\n    loop head"), "{table}");
}
