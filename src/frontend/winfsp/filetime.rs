//! FILETIME ↔ Unix time, exact both ways and never through local time.
//!
//! A FILETIME counts 100 ns ticks since 1601-01-01 00:00:00 UTC; Unix time counts seconds
//! (and nanoseconds) since 1970-01-01 UTC. Both are UTC, so converting is integer
//! arithmetic with one fixed offset. No calendar, time zone or DST rule takes part: the
//! classic bug this rules out is pywin32's, which passed a UTC SYSTEMTIME to `mktime`
//! (local time) and shifted every time by the zone and by DST.
//!
//! Platform-free so its tests run everywhere; the WinFsp front-end converts the backing
//! file's times with it, and `filetime_*` tests pin DST boundaries, pre-1970 values,
//! sub-microsecond values and the far future.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 100 ns ticks per second.
pub const TICKS_PER_SECOND: i64 = 10_000_000;
/// Seconds from 1601-01-01 to 1970-01-01 (369 years, 89 of them leap years).
pub const EPOCH_DIFFERENCE_SECS: i64 = 11_644_473_600;
/// The FILETIME of the Unix epoch.
pub const UNIX_EPOCH_TICKS: u64 = EPOCH_DIFFERENCE_SECS as u64 * TICKS_PER_SECOND as u64;
/// The largest FILETIME Windows accepts (`FileTimeToSystemTime`: year 30828); values
/// with the top bit set are not times.
pub const MAX_FILETIME: u64 = i64::MAX as u64;

/// A Unix time in `timespec` form: whole seconds (negative before 1970) and a
/// nanosecond part always in `0..1_000_000_000`, as `statx` and `utimensat` use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime {
    /// Seconds since 1970-01-01 UTC, floor-rounded.
    pub secs: i64,
    /// Nanoseconds past `secs`, in `0..1_000_000_000`.
    pub nanos: u32,
}

/// A Unix time no FILETIME can hold: before 1601 or after [`MAX_FILETIME`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfRange(pub UnixTime);

impl std::fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "time {}.{:09} s is outside the FILETIME range (1601 to 30828)",
            self.0.secs, self.0.nanos
        )
    }
}

impl std::error::Error for OutOfRange {}

impl UnixTime {
    /// A normalised time from seconds and nanoseconds (nanos may exceed a second).
    pub fn new(secs: i64, nanos: u32) -> UnixTime {
        UnixTime {
            secs: secs + i64::from(nanos / 1_000_000_000),
            nanos: nanos % 1_000_000_000,
        }
    }
}

/// The Unix time of a FILETIME. Exact: every FILETIME is a whole number of 100 ns.
pub fn to_unix(filetime: u64) -> UnixTime {
    let ticks_per_second = TICKS_PER_SECOND as u64;
    let whole = (filetime / ticks_per_second) as i64;
    let rest = (filetime % ticks_per_second) as u32;
    UnixTime {
        secs: whole - EPOCH_DIFFERENCE_SECS,
        nanos: rest * 100,
    }
}

/// The FILETIME of a Unix time. Nanoseconds below 100 are dropped (rounded toward the
/// past, as NTFS stores a `utimensat` time), so `to_unix(from_unix(t)?)` equals `t` for
/// every `t` whose nanoseconds are a multiple of 100.
pub fn from_unix(time: UnixTime) -> Result<u64, OutOfRange> {
    let since_1601 = i128::from(time.secs) + i128::from(EPOCH_DIFFERENCE_SECS);
    let ticks = since_1601 * i128::from(TICKS_PER_SECOND) + i128::from(time.nanos / 100);
    if ticks < 0 || ticks > i128::from(MAX_FILETIME) {
        return Err(OutOfRange(time));
    }
    Ok(ticks as u64)
}

/// The FILETIME of a `SystemTime`.
pub fn from_system_time(time: SystemTime) -> Result<u64, OutOfRange> {
    from_unix(unix_of_system_time(time))
}

/// The `SystemTime` of a FILETIME.
pub fn to_system_time(filetime: u64) -> SystemTime {
    let t = to_unix(filetime);
    if t.secs >= 0 {
        UNIX_EPOCH + Duration::new(t.secs as u64, t.nanos)
    } else {
        // secs < 0 ≤ nanos: the instant is |secs| seconds before the epoch, plus nanos.
        UNIX_EPOCH - Duration::from_secs(t.secs.unsigned_abs())
            + Duration::from_nanos(t.nanos.into())
    }
}

/// A `SystemTime` as a normalised [`UnixTime`] (floor seconds, non-negative nanos).
pub fn unix_of_system_time(time: SystemTime) -> UnixTime {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => UnixTime {
            secs: d.as_secs() as i64,
            nanos: d.subsec_nanos(),
        },
        Err(e) => {
            let before = e.duration();
            let mut secs = -(before.as_secs() as i64);
            let mut nanos = before.subsec_nanos();
            if nanos > 0 {
                secs -= 1;
                nanos = 1_000_000_000 - nanos;
            }
            UnixTime { secs, nanos }
        }
    }
}

/// What a time field of FILE_BASIC_INFORMATION asks for (`SetFileInformationByHandle`,
/// WinFsp's SetBasicInfo): 0 leaves the time alone; -1 stops the file system from
/// updating it for the rest of this handle's life and -2 resumes that (MS-FSCC 2.4.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUpdate {
    /// 0: leave as is.
    Keep,
    /// -1: set nothing now; stop automatic updates through this handle.
    Freeze,
    /// -2: set nothing now; resume automatic updates.
    Resume,
    /// Any other value: set to this FILETIME.
    Set(u64),
}

/// Reads one FILE_BASIC_INFORMATION time field.
pub fn basic_info_time(value: u64) -> TimeUpdate {
    match value as i64 {
        0 => TimeUpdate::Keep,
        -1 => TimeUpdate::Freeze,
        -2 => TimeUpdate::Resume,
        _ => TimeUpdate::Set(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ut(secs: i64, nanos: u32) -> UnixTime {
        UnixTime { secs, nanos }
    }

    #[test]
    fn filetime_epochs() {
        assert_eq!(to_unix(0), ut(-EPOCH_DIFFERENCE_SECS, 0));
        assert_eq!(from_unix(ut(0, 0)), Ok(UNIX_EPOCH_TICKS));
        assert_eq!(UNIX_EPOCH_TICKS, 116_444_736_000_000_000);
        assert_eq!(to_system_time(UNIX_EPOCH_TICKS), UNIX_EPOCH);
    }

    /// Instants either side of the 2026 DST changes in Europe (last Sunday of March and
    /// October, 01:00 UTC) and the US (second Sunday of March, 10:00 UTC for Pacific
    /// time; first Sunday of November): one UTC second apart is one FILETIME second
    /// apart, whatever the machine's zone. Values from `calendar.timegm`.
    #[test]
    fn filetime_dst_boundaries_are_plain_seconds() {
        let cases = [
            (1_774_745_999, 134_192_195_990_000_000u64), // 2026-03-29T00:59:59Z
            (1_774_746_000, 134_192_196_000_000_000),    // 2026-03-29T01:00:00Z
            (1_792_889_999, 134_373_635_990_000_000),    // 2026-10-25T00:59:59Z
            (1_792_890_000, 134_373_636_000_000_000),    // 2026-10-25T01:00:00Z
            (1_772_964_000, 134_174_376_000_000_000),    // 2026-03-08T10:00:00Z
            (1_793_512_800, 134_379_864_000_000_000),    // 2026-11-01T06:00:00Z
        ];
        for (unix, ft) in cases {
            assert_eq!(from_unix(ut(unix, 0)), Ok(ft), "{unix}");
            assert_eq!(to_unix(ft), ut(unix, 0));
        }
        assert_eq!(
            from_unix(ut(1_774_746_000, 0)).unwrap() - from_unix(ut(1_774_745_999, 0)).unwrap(),
            TICKS_PER_SECOND as u64
        );
    }

    #[test]
    fn filetime_before_1970() {
        // Apollo 11 landing, 1969-07-20T20:17:40Z.
        assert_eq!(from_unix(ut(-14_182_940, 0)), Ok(116_302_906_600_000_000));
        // One tick before the Unix epoch: -1 s + 999,999,900 ns (timespec form).
        assert_eq!(to_unix(UNIX_EPOCH_TICKS - 1), ut(-1, 999_999_900));
        assert_eq!(from_unix(ut(-1, 999_999_900)), Ok(UNIX_EPOCH_TICKS - 1));
        assert_eq!(
            to_system_time(UNIX_EPOCH_TICKS - 1),
            UNIX_EPOCH - Duration::from_nanos(100)
        );
        assert_eq!(
            unix_of_system_time(UNIX_EPOCH - Duration::from_nanos(100)),
            ut(-1, 999_999_900)
        );
        // Before 1601 there is no FILETIME.
        assert!(from_unix(ut(-EPOCH_DIFFERENCE_SECS - 1, 999_999_999)).is_err());
        assert_eq!(from_unix(ut(-EPOCH_DIFFERENCE_SECS, 0)), Ok(0));
    }

    #[test]
    fn filetime_sub_microsecond() {
        // 100 ns is one tick; anything finer is dropped toward the past.
        assert_eq!(from_unix(ut(0, 100)), Ok(UNIX_EPOCH_TICKS + 1));
        assert_eq!(from_unix(ut(0, 199)), Ok(UNIX_EPOCH_TICKS + 1));
        assert_eq!(from_unix(ut(0, 99)), Ok(UNIX_EPOCH_TICKS));
        assert_eq!(to_unix(UNIX_EPOCH_TICKS + 12_345), ut(0, 1_234_500));
    }

    #[test]
    fn filetime_far_future() {
        // 9999-12-31T23:59:59Z.
        assert_eq!(
            from_unix(ut(253_402_300_799, 0)),
            Ok(2_650_467_743_990_000_000)
        );
        // The last FILETIME (year 30828) converts and comes back.
        let last = to_unix(MAX_FILETIME);
        assert_eq!(last, ut(910_692_730_085, 477_580_700));
        assert_eq!(from_unix(last), Ok(MAX_FILETIME));
        assert!(from_unix(ut(910_692_730_085, 477_580_800)).is_err());
        assert!(from_unix(ut(i64::MAX, 999_999_999)).is_err());
        assert!(from_unix(ut(i64::MIN, 0)).is_err());
    }

    #[test]
    fn basic_info_special_values() {
        assert_eq!(basic_info_time(0), TimeUpdate::Keep);
        assert_eq!(basic_info_time(u64::MAX), TimeUpdate::Freeze);
        assert_eq!(basic_info_time(u64::MAX - 1), TimeUpdate::Resume);
        assert_eq!(basic_info_time(42), TimeUpdate::Set(42));
    }

    proptest! {
        #[test]
        fn filetime_round_trips_exactly(ft in 0u64..=MAX_FILETIME) {
            prop_assert_eq!(from_unix(to_unix(ft)), Ok(ft));
            prop_assert_eq!(from_system_time(to_system_time(ft)), Ok(ft));
        }

        #[test]
        fn unix_round_trips_at_100ns(
            secs in -EPOCH_DIFFERENCE_SECS..253_402_300_800i64,
            ticks in 0u32..10_000_000,
        ) {
            let t = ut(secs, ticks * 100);
            prop_assert_eq!(to_unix(from_unix(t).unwrap()), t);
        }

        #[test]
        fn order_is_kept(a in 0u64..=MAX_FILETIME, b in 0u64..=MAX_FILETIME) {
            prop_assert_eq!(a.cmp(&b), to_unix(a).cmp(&to_unix(b)));
        }
    }
}
