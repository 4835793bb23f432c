//! `file.name.template`: parsing a template, then matching keys against it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_core::template::FileNameTemplate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (template, key) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(t) = FileNameTemplate::parse(template) {
        let _ = t.matches(key);
        let _ = t.matches(template);
        // What a template prints must parse to the same template.
        let again = FileNameTemplate::parse(&t.to_string()).expect("a parsed template re-parses");
        assert_eq!(again, t);
    }
});
