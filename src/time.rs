//! Timestamps as formats store them: seconds, a fraction, a zone and a precision.
//!
//! Times are compared and printed in UTC at the precision the format stores, so a
//! difference of one hundredth of a second in a Rock Ridge long-form stamp shows, and
//! a squashfs time is never printed with invented digits.

use std::fmt;

/// The resolution a format stores a time with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// Whole seconds (ISO 9660 directory records, squashfs, cpio).
    Seconds,
    /// Hundredths of a second (ISO 9660 17-byte dates, Rock Ridge long-form TF,
    /// FAT creation times with their 10 ms field).
    Hundredths,
    /// Even seconds (FAT modification times: the seconds field counts pairs).
    /// Printed like [`Precision::Seconds`]; kept apart so that a comparison with a
    /// format that stores odd seconds can say why they cannot agree.
    TwoSeconds,
    /// A calendar date without a time of day (FAT access dates). Printed as an
    /// RFC 3339 full-date, `2024-06-02`.
    Days,
    /// Nanoseconds: a file of a directory, as the file system gives it
    /// (`lstat`). Printed with nine digits.
    Nanoseconds,
}

impl Precision {
    /// The precision a time is printed with: [`Precision::TwoSeconds`] is
    /// printed as [`Precision::Seconds`].
    pub(crate) fn printed(self) -> Precision {
        match self {
            Precision::TwoSeconds => Precision::Seconds,
            p => p,
        }
    }
}

/// A point in time as an image stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z (already corrected for the zone).
    pub secs: i64,
    /// Fraction of the second, in nanoseconds.
    pub nanos: u32,
    /// The zone offset as stored, in minutes east of UTC (ISO stores quarter hours).
    /// Kept even when out of range so that a difference in it shows.
    pub offset_minutes: Option<i16>,
    /// What resolution the format stores.
    pub precision: Precision,
}

impl Timestamp {
    /// A UTC time in whole seconds, as squashfs and cpio store it.
    pub fn from_unix(secs: i64) -> Timestamp {
        Timestamp {
            secs,
            nanos: 0,
            offset_minutes: None,
            precision: Precision::Seconds,
        }
    }

    /// A time from calendar fields given in a zone `offset_minutes` east of UTC.
    /// Returns `None` when a field is out of its range.
    pub(crate) fn from_civil(
        civil: Civil,
        offset_minutes: i32,
        nanos: u32,
        precision: Precision,
    ) -> Option<Timestamp> {
        if !(1..=12).contains(&civil.month)
            || civil.day < 1
            || civil.day > days_in_month(civil.year, civil.month)
            || civil.hour > 23
            || civil.minute > 59
            || civil.second > 60
        {
            return None;
        }
        let days = days_from_civil(civil.year, civil.month, civil.day);
        let local = days * 86_400
            + i64::from(civil.hour) * 3600
            + i64::from(civil.minute) * 60
            + i64::from(civil.second);
        Some(Timestamp {
            secs: local - i64::from(offset_minutes) * 60,
            nanos,
            offset_minutes: None,
            precision,
        })
    }

    /// The instant as [`Timestamp::rfc3339`] prints it: seconds and nanoseconds
    /// cut to the stored precision (a date alone is its midnight).
    pub(crate) fn shown_instant(&self) -> (i64, u32) {
        match self.precision {
            Precision::Seconds | Precision::TwoSeconds => (self.secs, 0),
            Precision::Hundredths => (self.secs, self.nanos / 10_000_000 * 10_000_000),
            Precision::Days => (self.secs.div_euclid(86_400) * 86_400, 0),
            Precision::Nanoseconds => (self.secs, self.nanos),
        }
    }

    /// The instant this time would have if a format of `precision` had
    /// stored it: the digits it cannot hold cut off (not rounded), as
    /// mksquashfs, cpio and xorriso cut the times they read from `lstat`.
    pub(crate) fn cut_to(&self, precision: Precision) -> (i64, u32) {
        match precision {
            Precision::TwoSeconds => (self.secs - self.secs.rem_euclid(2), 0),
            p => Timestamp {
                precision: p,
                ..*self
            }
            .shown_instant(),
        }
    }

    /// True when the two are the same time. A time of a directory
    /// ([`Precision::Nanoseconds`]) and one an image stores more coarsely are
    /// the same when the finer one, cut to the coarser precision, is that
    /// instant: an image made from the directory cannot store more, so the
    /// digits it dropped are no difference (their zone neither: a directory
    /// has none). Any other pair must be equal in every field.
    pub(crate) fn same_as(&self, other: &Timestamp) -> bool {
        let fine = Precision::Nanoseconds;
        match (self.precision == fine, other.precision == fine) {
            (true, false) => self.cut_to(other.precision) == other.cut_to(other.precision),
            (false, true) => other.same_as(self),
            _ => self == other,
        }
    }

    /// True when both are printed the same by [`Timestamp::rfc3339`]: the same
    /// instant at the same printed precision (they may differ in their zone, or
    /// in digits the precision does not print).
    pub(crate) fn prints_as(&self, other: &Timestamp) -> bool {
        self.precision.printed() == other.precision.printed()
            && self.shown_instant() == other.shown_instant()
    }

    /// RFC 3339 in UTC at the stored precision, e.g. `1980-01-01T00:00:00Z` or
    /// `2024-06-02T12:00:00.25Z`... always with two digits for hundredths.
    pub fn rfc3339(&self) -> String {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (rem / 3600, rem / 60 % 60, rem % 60);
        let frac = match self.precision {
            Precision::Seconds | Precision::TwoSeconds => String::new(),
            Precision::Hundredths => format!(".{:02}", self.nanos / 10_000_000),
            Precision::Nanoseconds => format!(".{:09}", self.nanos),
            // A date alone: printing a time of day would invent one.
            Precision::Days => return format!("{y:04}-{m:02}-{d:02}"),
        };
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}{frac}Z")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())?;
        match self.offset_minutes {
            Some(off) if off != 0 => write!(f, " (zone {off:+} min)"),
            _ => Ok(()),
        }
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

/// Calendar fields of a local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Full year, e.g. 1980.
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 60 (a leap second is accepted).
    pub second: u32,
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

// Howard Hinnant's days_from_civil: proleptic Gregorian, day 0 = 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn civil(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Civil {
        Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    #[test]
    fn known_instants() {
        let t = Timestamp::from_civil(civil(1980, 1, 1, 0, 0, 0), 0, 0, Precision::Seconds);
        assert_eq!(t.map(|t| t.secs), Some(315_532_800));
        let t = Timestamp::from_civil(civil(2040, 2, 29, 12, 30, 1), 60, 0, Precision::Seconds);
        assert_eq!(
            t.map(|t| t.rfc3339()).as_deref(),
            Some("2040-02-29T11:30:01Z")
        );
        assert_eq!(Timestamp::from_unix(1).rfc3339(), "1970-01-01T00:00:01Z");
        assert_eq!(Timestamp::from_unix(-1).rfc3339(), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn hundredths_are_printed() {
        let t = Timestamp::from_civil(
            civil(2024, 6, 2, 0, 0, 0),
            0,
            250_000_000,
            Precision::Hundredths,
        );
        assert_eq!(
            t.map(|t| t.rfc3339()).as_deref(),
            Some("2024-06-02T00:00:00.25Z")
        );
    }

    #[test]
    fn fat_precisions_are_printed() {
        let t = Timestamp::from_civil(civil(2024, 6, 2, 13, 4, 6), 0, 0, Precision::TwoSeconds);
        assert_eq!(
            t.map(|t| t.rfc3339()).as_deref(),
            Some("2024-06-02T13:04:06Z")
        );
        let t = Timestamp::from_civil(civil(2024, 6, 2, 0, 0, 0), 0, 0, Precision::Days);
        assert_eq!(t.map(|t| t.rfc3339()).as_deref(), Some("2024-06-02"));
    }

    #[test]
    fn out_of_range_fields_are_rejected() {
        assert!(
            Timestamp::from_civil(civil(2023, 2, 29, 0, 0, 0), 0, 0, Precision::Seconds).is_none()
        );
        assert!(
            Timestamp::from_civil(civil(2023, 13, 1, 0, 0, 0), 0, 0, Precision::Seconds).is_none()
        );
        assert!(
            Timestamp::from_civil(civil(2023, 1, 1, 24, 0, 0), 0, 0, Precision::Seconds).is_none()
        );
    }

    #[test]
    fn printed_instants_compare_at_the_stored_precision() {
        let day = Timestamp::from_civil(civil(2024, 6, 2, 0, 0, 0), 0, 0, Precision::Days);
        let noon = Timestamp::from_civil(civil(2024, 6, 2, 12, 0, 0), 0, 0, Precision::Days);
        assert_eq!(day.map(|t| t.shown_instant()), Some((1_717_286_400, 0)));
        assert!(day.zip(noon).is_some_and(|(d, n)| d.prints_as(&n)));
        let mut t = Timestamp::from_unix(1);
        let mut u = t;
        u.offset_minutes = Some(60);
        assert!(t.prints_as(&u) && t != u);
        t.precision = Precision::TwoSeconds;
        assert!(t.prints_as(&u), "printed alike");
        u.precision = Precision::Hundredths;
        assert!(!t.prints_as(&u), "one prints hundredths");
    }

    #[test]
    fn a_directory_time_agrees_with_what_an_image_stores_of_it() {
        let fine = Timestamp {
            secs: 1_717_286_401,
            nanos: 987_654_321,
            offset_minutes: None,
            precision: Precision::Nanoseconds,
        };
        assert_eq!(fine.rfc3339(), "2024-06-02T00:00:01.987654321Z");
        let squashfs = Timestamp::from_unix(1_717_286_401);
        assert!(fine.same_as(&squashfs) && squashfs.same_as(&fine));
        assert!(!fine.same_as(&Timestamp::from_unix(1_717_286_402)));
        let mut iso = squashfs;
        iso.offset_minutes = Some(0);
        iso.precision = Precision::Hundredths;
        iso.nanos = 980_000_000;
        assert!(fine.same_as(&iso));
        iso.nanos = 990_000_000;
        assert!(!fine.same_as(&iso), "not rounded up");
        let mut fat = Timestamp::from_unix(1_717_286_400);
        fat.precision = Precision::TwoSeconds;
        assert!(fine.same_as(&fat));
        // Two directories: every digit counts.
        let mut other = fine;
        other.nanos += 1;
        assert!(!fine.same_as(&other));
        let before_1970 = Timestamp {
            secs: -3,
            nanos: 500_000_000,
            ..fine
        };
        assert!(before_1970.same_as(&Timestamp::from_unix(-3)));
    }

    #[test]
    fn round_trip_over_centuries() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
