#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    azmi_guest::fuzzing::token_response(data);
});
