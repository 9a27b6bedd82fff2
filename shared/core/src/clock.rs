//! The `Clock` port: the only place Warden learns the time.
//!
//! Expiry, lockouts, TTLs and presigned links all take their "now" from a [`Clock`], so tests
//! move time with [`ManualClock`] and `warden-local --time-offset` shifts it with [`OffsetClock`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_secs(secs: i64) -> Self {
        Timestamp(secs * 1000)
    }
    pub fn millis(self) -> i64 {
        self.0
    }
    pub fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(d.as_millis() as i64))
    }
    pub fn minus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_sub(d.as_millis() as i64))
    }
    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }
    pub fn to_system_time(self) -> SystemTime {
        if self.0 >= 0 {
            UNIX_EPOCH + Duration::from_millis(self.0 as u64)
        } else {
            UNIX_EPOCH - Duration::from_millis(self.0.unsigned_abs())
        }
    }

    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-28T03:22:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        let secs = self.secs();
        let millis = self.0.rem_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            sod / 3600,
            (sod % 3600) / 60,
            sod % 60
        )
    }

    /// RFC 5322 (e-mail) date in UTC, e.g. `Sat, 28 Nov 2026 03:22:00 +0000`.
    pub fn to_rfc2822(self) -> String {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let secs = self.secs();
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} +0000",
            DAYS[days.rem_euclid(7) as usize],
            MONTHS[(m - 1) as usize],
            sod / 3600,
            (sod % 3600) / 60,
            sod % 60
        )
    }
}

impl Timestamp {
    /// The same time of day `months` calendar months later, on the same day of the month or
    /// the month's last day when it is shorter (31 January + 1 month = 28/29 February): how a
    /// "one month" legal deadline is counted.
    pub fn plus_months(self, months: u32) -> Self {
        let ms_of_day = self.0.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(self.0.div_euclid(86_400_000));
        let total = y * 12 + i64::from(m - 1) + i64::from(months);
        let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
        let day = d.min(days_in_month(ny, nm));
        Timestamp(days_from_civil(ny, nm, day) * 86_400_000 + ms_of_day)
    }

    /// The UTC calendar year.
    pub fn year(self) -> i32 {
        civil_from_days(self.utc_day()).0 as i32
    }

    /// The UTC calendar day, counted from 1970-01-01 (day 0): the difference of two is a number
    /// of calendar days however the times fall within them.
    pub fn utc_day(self) -> i64 {
        self.0.div_euclid(86_400_000)
    }

    /// Midnight UTC at the start of 1 January of `year`.
    pub fn start_of_year(year: i32) -> Self {
        Timestamp(days_from_civil(i64::from(year), 1, 1) * 86_400_000)
    }

    /// `days` business days later (Monday to Friday; public holidays are not modelled).
    pub fn plus_business_days(self, days: u32) -> Self {
        let mut t = self;
        let mut left = days;
        while left > 0 {
            t = t.plus(Duration::from_secs(86_400));
            // 1970-01-01 was a Thursday: weekday 0 = Monday.
            let weekday = (t.0.div_euclid(86_400_000) + 3).rem_euclid(7);
            if weekday < 5 {
                left -= 1;
            }
        }
        t
    }
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Howard Hinnant's civil-to-days algorithm, the inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_millis() as i64)
    }
}

/// The system clock shifted by a fixed offset (`warden-local --time-offset`).
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    pub offset_millis: i64,
}

impl Clock for OffsetClock {
    fn now(&self) -> Timestamp {
        Timestamp(SystemClock.now().0 + self.offset_millis)
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock(AtomicI64::new(start.0))
    }
    /// Starts at the current system time, so AWS request signing stays valid.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: &str) -> Timestamp {
        let (y, rest) = date.split_at(4);
        let m: u32 = rest[1..3].parse().unwrap();
        let d: u32 = rest[4..6].parse().unwrap();
        Timestamp(days_from_civil(y.parse().unwrap(), m, d) * 86_400_000)
    }

    #[test]
    fn a_month_later_clamps_to_the_end_of_a_shorter_month() {
        assert_eq!(at("2026-01-31").plus_months(1), at("2026-02-28"));
        assert_eq!(at("2028-01-31").plus_months(1), at("2028-02-29"));
        assert_eq!(at("2026-11-28").plus_months(1), at("2026-12-28"));
        assert_eq!(at("2026-12-15").plus_months(3), at("2027-03-15"));
        assert_eq!(at("2026-11-28").to_rfc3339(), "2026-11-28T00:00:00.000Z");
    }

    #[test]
    fn business_days_skip_weekends() {
        // 2026-11-27 is a Friday: one business day later is Monday 30 November.
        assert_eq!(at("2026-11-27").plus_business_days(1), at("2026-11-30"));
        // Fifteen business days are three weeks.
        assert_eq!(at("2026-11-30").plus_business_days(15), at("2026-12-21"));
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(1_795_836_120_123).to_rfc3339(),
            "2026-11-28T03:22:00.123Z"
        );
        assert_eq!(
            Timestamp::from_secs(951_782_400).to_rfc3339(),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let c = ManualClock::new(Timestamp(1000));
        assert_eq!(c.now(), Timestamp(1000));
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now(), Timestamp(3000));
    }
}
