#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    azmi_guest::fuzzing::secret_and_error(data);
});
