//! PostgreSQL's `interval`: months, days and microseconds, kept apart as
//! PostgreSQL keeps them (a month is not a fixed number of days, nor a day
//! of hours across a zone change). bucketdb has intervals only as results
//! (`now() - last_modified`, `interval '7 days'`); its text form is
//! PostgreSQL's default output style, which psql shows and drivers parse.

/// An interval's three fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

impl Interval {
    /// The interval a difference of two timestamps is: whole days and the
    /// time left over, each with the difference's sign
    /// (`1068 days 21:45:05.176033`), as PostgreSQL's `timestamp -
    /// timestamp` answers.
    pub fn from_micros(micros: i64) -> Interval {
        Interval {
            months: 0,
            days: i32::try_from(micros / MICROS_PER_DAY).unwrap_or(i32::MAX),
            micros: micros % MICROS_PER_DAY,
        }
    }

    /// PostgreSQL's output style `postgres`: `1 year 2 mons 3 days
    /// 04:05:06.5`; a field after a negative one carries its `+`
    /// (`-1 days +02:00:00`); all zero is `00:00:00`.
    pub fn to_text(self) -> String {
        let mut out = String::new();
        // Whether the last field printed was negative.
        let mut after_negative = false;
        let mut part = |out: &mut String, value: i64, unit: &str| {
            if value == 0 {
                return;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            if after_negative && value > 0 {
                out.push('+');
            }
            let plural = if value == 1 { "" } else { "s" };
            out.push_str(&format!("{value} {unit}{plural}"));
            after_negative = value < 0;
        };
        part(&mut out, i64::from(self.months / 12), "year");
        part(&mut out, i64::from(self.months % 12), "mon");
        part(&mut out, i64::from(self.days), "day");
        if out.is_empty() || self.micros != 0 {
            let sign = match (self.micros < 0, after_negative) {
                (true, _) => "-",
                (false, true) => "+",
                (false, false) => "",
            };
            let abs = self.micros.unsigned_abs();
            let seconds = abs / 1_000_000;
            let fraction = abs % 1_000_000;
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&format!(
                "{sign}{:02}:{:02}:{:02}",
                seconds / 3600,
                seconds / 60 % 60,
                seconds % 60
            ));
            push_fraction(&mut out, fraction);
        }
        out
    }
}

/// Appends a second's fraction, given in microseconds, as PostgreSQL prints
/// it in times and intervals: `.5`, `.000125`, trailing zeros left off, and
/// nothing for none.
pub(crate) fn push_fraction(out: &mut String, micros: u64) {
    if micros != 0 {
        let digits = format!("{micros:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(months: i32, days: i32, micros: i64) -> String {
        Interval {
            months,
            days,
            micros,
        }
        .to_text()
    }

    /// Each case as PostgreSQL 15 prints it (`SELECT interval '…'`).
    #[test]
    fn intervals_print_as_postgresql_prints_them() {
        let hour = 3_600_000_000;
        for (got, want) in [
            (iv(0, 0, 0), "00:00:00"),
            (
                iv(0, 1, 2 * hour + 3 * 60_000_000 + 4_500_000),
                "1 day 02:03:04.5",
            ),
            (iv(14, 0, 0), "1 year 2 mons"),
            (iv(1, 2, 0), "1 mon 2 days"),
            (iv(0, 0, -hour), "-01:00:00"),
            (iv(0, -1, 2 * hour), "-1 days +02:00:00"),
            (iv(-13, 0, 0), "-1 years -1 mons"),
            (iv(0, 3, -hour), "3 days -01:00:00"),
            (iv(0, 0, 30 * hour + 1), "30:00:00.000001"),
        ] {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_difference_of_timestamps_is_days_and_time() {
        let micros = 1068 * MICROS_PER_DAY + 78_305_176_033;
        assert_eq!(
            Interval::from_micros(micros).to_text(),
            "1068 days 21:45:05.176033"
        );
        assert_eq!(
            Interval::from_micros(-micros).to_text(),
            "-1068 days -21:45:05.176033"
        );
    }
}
