use super::*;

#[test]
fn us_dates() {
    assert_eq!(us_date(1_560_999_478), "06/20/2019 02:57:58 +00:00");
    assert_eq!(us_date(1_709_208_000), "02/29/2024 12:00:00 +00:00");
    assert_eq!(us_date(0), "01/01/1970 00:00:00 +00:00");
    assert_eq!(windows_date(1_579_152_252), "1/16/2020 5:24:12 AM +00:00");
    assert_eq!(windows_date(1_579_195_452), "1/16/2020 5:24:12 PM +00:00");
    assert_eq!(windows_date(1_579_134_252), "1/16/2020 12:24:12 AM +00:00");
}
