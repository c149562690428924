#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    azmi::fuzzing::egress_check(data);
    if let Ok(text) = std::str::from_utf8(data) {
        azmi::fuzzing::connect_to(text);
    }
});
