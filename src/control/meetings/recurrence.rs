//! Recurrence rules and their expansion into occurrences, in the province's
//! local time: a giao ban at 08:00 every Monday stays at 08:00 on the wall
//! clock, whatever that is in UTC. Pure: no store, no clock.

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::MeetingError;

/// The province's civil time, Asia/Ho_Chi_Minh: UTC+07:00 all year (Vietnam
/// has kept no daylight saving time since 1975), so a fixed offset is the
/// whole time zone and no tz database is needed on an offline network.
pub const LOCAL_OFFSET: UtcOffset = time::macros::offset!(+7);

/// The most meetings one series makes (one row each).
pub const MAX_OCCURRENCES: usize = 200;
/// The largest step between occurrences, in days, weeks or months.
pub const MAX_INTERVAL: u16 = 12;
/// How far after its first meeting a series may run: two years, like how
/// far ahead a meeting may be planned at all.
const MAX_SERIES_DAYS: i64 = 731;
/// Years past this are refused before any date arithmetic, so expanding a
/// rule can never overflow `time`'s calendar (which ends in 9999).
const MAX_YEAR: i32 = 9000;

/// How often a series repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Freq {
    Daily,
    Weekly,
    Monthly,
}

/// A day of the week, as iCalendar spells it (`mo` … `su`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mo,
    Tu,
    We,
    Th,
    Fr,
    Sa,
    Su,
}

impl Weekday {
    pub fn of(day: time::Weekday) -> Weekday {
        match day {
            time::Weekday::Monday => Weekday::Mo,
            time::Weekday::Tuesday => Weekday::Tu,
            time::Weekday::Wednesday => Weekday::We,
            time::Weekday::Thursday => Weekday::Th,
            time::Weekday::Friday => Weekday::Fr,
            time::Weekday::Saturday => Weekday::Sa,
            time::Weekday::Sunday => Weekday::Su,
        }
    }

    /// Days after Monday (Monday is 0): weeks start on Monday in Vietnam.
    fn days_after_monday(self) -> i64 {
        self as i64
    }
}

/// A series rule: every `interval` days, weeks or months from the first
/// meeting, ending after `count` meetings or on `until` (exactly one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recurrence {
    pub freq: Freq,
    /// 1 to 12; 2 with `weekly` is every other week.
    #[serde(default = "one")]
    pub interval: u16,
    /// Weekly only: the days the meeting falls on; empty means the start's
    /// own weekday.
    #[serde(default)]
    pub by_weekday: Vec<Weekday>,
    /// How many meetings, 1 to 200.
    #[serde(default)]
    pub count: Option<u16>,
    /// The last local date a meeting may fall on (inclusive).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub until: Option<Date>,
}

fn one() -> u16 {
    1
}

fn invalid(field: &str, message: impl Into<String>) -> MeetingError {
    MeetingError::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

/// The local wall-clock time of an instant (unix ms); `None` outside the
/// calendar `time` supports.
pub fn to_local(ms: i64) -> Option<PrimitiveDateTime> {
    let utc = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    let local = utc.checked_to_offset(LOCAL_OFFSET)?;
    Some(PrimitiveDateTime::new(local.date(), local.time()))
}

/// The instant (unix ms) of a local wall-clock time.
pub fn from_local(local: PrimitiveDateTime) -> i64 {
    let nanos = local.assume_offset(LOCAL_OFFSET).unix_timestamp_nanos();
    // Every date `time` can hold is well inside i64 milliseconds.
    i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
}

/// The local date of an instant: the date a meeting is "on", the date its
/// participants and scope are resolved at.
pub fn local_date(ms: i64) -> Option<Date> {
    to_local(ms).map(|t| t.date())
}

/// Refusals that need no dates: each names the rule's field.
pub(super) fn check_rule(rule: &Recurrence) -> Result<(), MeetingError> {
    if !(1..=MAX_INTERVAL).contains(&rule.interval) {
        return Err(invalid(
            "recurrence.interval",
            format!(
                "{} is not an interval; use 1 to {MAX_INTERVAL}",
                rule.interval
            ),
        ));
    }
    if rule.freq != Freq::Weekly && !rule.by_weekday.is_empty() {
        return Err(invalid(
            "recurrence.by_weekday",
            "days of the week only go with a weekly rule",
        ));
    }
    for (i, day) in rule.by_weekday.iter().enumerate() {
        if rule.by_weekday[..i].contains(day) {
            return Err(invalid(
                "recurrence.by_weekday",
                format!("{day:?} is listed twice"),
            ));
        }
    }
    match (rule.count, rule.until) {
        (Some(_), Some(_)) => Err(invalid("recurrence", "set either count or until, not both")),
        (None, None) => Err(invalid(
            "recurrence",
            "set how the series ends: count (how many meetings) or until (a last date)",
        )),
        (Some(c), None) if c == 0 || usize::from(c) > MAX_OCCURRENCES => Err(invalid(
            "recurrence.count",
            format!("{c} is not a count; a series has 1 to {MAX_OCCURRENCES} meetings"),
        )),
        _ => Ok(()),
    }
}

/// Collects candidate dates in order until the rule is satisfied.
struct Collector {
    dates: Vec<Date>,
    count: Option<usize>,
    until: Option<Date>,
    horizon: Date,
}

impl Collector {
    /// Take `date` if the rule allows; `false` once nothing later can be taken.
    fn take(&mut self, date: Date) -> bool {
        if date > self.horizon || self.until.is_some_and(|u| date > u) {
            return false;
        }
        self.dates.push(date);
        // One past the limit is kept so the caller can say "too many".
        self.dates.len() < self.count.unwrap_or(MAX_OCCURRENCES + 1)
    }
}

/// Expand a rule into (start, end) instants, unix ms, first to last.
///
/// Each occurrence keeps the first meeting's local time of day and its
/// length. The series begins on the first date on or after the start that
/// fits the rule (a weekly Mon+Thu rule starting on a Wednesday begins on
/// Thursday). A monthly rule keeps the start's day of the month and skips
/// months without it (a series on the 31st has no meeting in April, June,
/// September, November or February), as RFC 5545 does; skipped months do
/// not count towards `count`.
pub fn occurrences(
    start_ms: i64,
    end_ms: i64,
    rule: &Recurrence,
) -> Result<Vec<(i64, i64)>, MeetingError> {
    check_rule(rule)?;
    let start = to_local(start_ms)
        .filter(|t| t.year() <= MAX_YEAR && t.year() >= 1)
        .ok_or_else(|| invalid("starts_at_ms", format!("{start_ms} is out of range")))?;
    let length = end_ms.saturating_sub(start_ms);
    let first = start.date();
    let horizon = first + Duration::days(MAX_SERIES_DAYS);
    if let Some(until) = rule.until {
        if until < first {
            return Err(invalid(
                "recurrence.until",
                format!("{until} is before the first meeting, on {first}"),
            ));
        }
        if until > horizon {
            return Err(invalid(
                "recurrence.until",
                format!("{until} is more than two years after the first meeting, on {first}"),
            ));
        }
    }
    let mut c = Collector {
        dates: Vec::new(),
        count: rule.count.map(usize::from),
        until: rule.until,
        horizon,
    };
    let step = i64::from(rule.interval);
    match rule.freq {
        Freq::Daily => {
            let mut date = first;
            while c.take(date) {
                date += Duration::days(step);
            }
        }
        Freq::Weekly => {
            let mut days = rule.by_weekday.clone();
            if days.is_empty() {
                days.push(Weekday::of(first.weekday()));
            }
            days.sort();
            let mut monday =
                first - Duration::days(Weekday::of(first.weekday()).days_after_monday());
            'weeks: while monday <= horizon {
                for day in &days {
                    let date = monday + Duration::days(day.days_after_monday());
                    if date >= first && !c.take(date) {
                        break 'weeks;
                    }
                }
                monday += Duration::weeks(step);
            }
        }
        Freq::Monthly => {
            let day = first.day();
            let mut month_index = i64::from(first.year()) * 12 + i64::from(first.month() as u8) - 1;
            loop {
                let year = i32::try_from(month_index.div_euclid(12)).unwrap_or(MAX_YEAR);
                let month =
                    Month::try_from(u8::try_from(month_index.rem_euclid(12) + 1).unwrap_or(1))
                        .unwrap_or(Month::January);
                let Ok(first_of_month) = Date::from_calendar_date(year, month, 1) else {
                    break;
                };
                if first_of_month > horizon {
                    break;
                }
                // A month without this day (the 31st in April) is skipped.
                if let Ok(date) = Date::from_calendar_date(year, month, day)
                    && !c.take(date)
                {
                    break;
                }
                month_index += step;
            }
        }
    }
    let dates = c.dates;
    if dates.len() > MAX_OCCURRENCES {
        return Err(invalid(
            "recurrence.until",
            format!("the rule makes more than {MAX_OCCURRENCES} meetings; pick an earlier date"),
        ));
    }
    if let Some(count) = rule.count
        && dates.len() < usize::from(count)
    {
        return Err(invalid(
            "recurrence.count",
            format!("{count} meetings would run more than two years past the first, on {first}"),
        ));
    }
    if dates.is_empty() {
        return Err(invalid(
            "recurrence.until",
            "no day between the start and this date fits the rule",
        ));
    }
    Ok(dates
        .into_iter()
        .map(|d| {
            let s = from_local(PrimitiveDateTime::new(d, start.time()));
            (s, s.saturating_add(length))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn at(local: PrimitiveDateTime) -> i64 {
        from_local(local)
    }

    fn rule(freq: Freq) -> Recurrence {
        Recurrence {
            freq,
            interval: 1,
            by_weekday: Vec::new(),
            count: None,
            until: None,
        }
    }

    fn field(e: MeetingError) -> String {
        match e {
            MeetingError::Invalid { field, .. } => field,
            other => panic!("not a field error: {other:?}"),
        }
    }

    #[test]
    fn the_offset_is_seven_hours_all_year() {
        // 08:00 local is 01:00 UTC in January and in July alike.
        assert_eq!(at(datetime!(2025-01-06 08:00)), 1_736_125_200_000);
        assert_eq!(at(datetime!(2025-07-07 08:00)), 1_751_850_000_000);
        assert_eq!(
            local_date(at(datetime!(2025-07-01 00:30))),
            Some(date!(2025 - 07 - 01))
        );
        // 23:30 UTC on 30 June is already 1 July in the province.
        assert_eq!(local_date(1_751_326_200_000), Some(date!(2025 - 07 - 01)));
    }

    #[test]
    fn weekly_on_monday_and_thursday_keeps_eight_o_clock_local() {
        let mut r = rule(Freq::Weekly);
        r.by_weekday = vec![Weekday::Th, Weekday::Mo];
        r.count = Some(6);
        let start = at(datetime!(2025-09-01 08:00));
        let got = occurrences(start, start + 2 * 3_600_000, &r).unwrap();
        let want: Vec<(i64, i64)> = [
            datetime!(2025-09-01 08:00),
            datetime!(2025-09-04 08:00),
            datetime!(2025-09-08 08:00),
            datetime!(2025-09-11 08:00),
            datetime!(2025-09-15 08:00),
            datetime!(2025-09-18 08:00),
        ]
        .into_iter()
        .map(|t| (at(t), at(t) + 2 * 3_600_000))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn weekly_days_are_local_days_even_when_utc_is_still_the_day_before() {
        // 06:00 on a Monday in the province is 23:00 on Sunday in UTC.
        let mut r = rule(Freq::Weekly);
        r.count = Some(3);
        let start = at(datetime!(2025-09-01 06:00));
        let got = occurrences(start, start + 3_600_000, &r).unwrap();
        for (s, _) in &got {
            let local = to_local(*s).unwrap();
            assert_eq!(local.weekday(), time::Weekday::Monday);
            assert_eq!((local.hour(), local.minute()), (6, 0));
        }
        assert_eq!(got[2].0 - got[0].0, 14 * 86_400_000);
    }

    #[test]
    fn a_series_begins_on_the_first_day_that_fits() {
        let mut r = rule(Freq::Weekly);
        r.by_weekday = vec![Weekday::Mo, Weekday::Th];
        r.count = Some(2);
        // 2025-09-03 is a Wednesday.
        let start = at(datetime!(2025-09-03 14:00));
        let got = occurrences(start, start + 3_600_000, &r).unwrap();
        assert_eq!(got[0].0, at(datetime!(2025-09-04 14:00)));
        assert_eq!(got[1].0, at(datetime!(2025-09-08 14:00)));
    }

    #[test]
    fn every_other_week_and_every_second_day_until_a_date() {
        let mut r = rule(Freq::Weekly);
        r.interval = 2;
        r.until = Some(date!(2025 - 10 - 13));
        let start = at(datetime!(2025-09-01 08:00));
        let got: Vec<Date> = occurrences(start, start + 1, &r)
            .unwrap()
            .into_iter()
            .map(|(s, _)| local_date(s).unwrap())
            .collect();
        assert_eq!(
            got,
            [
                date!(2025 - 09 - 01),
                date!(2025 - 09 - 15),
                date!(2025 - 09 - 29),
                date!(2025 - 10 - 13)
            ]
        );

        let mut r = rule(Freq::Daily);
        r.interval = 2;
        r.until = Some(date!(2025 - 09 - 06));
        let got = occurrences(start, start + 1, &r).unwrap();
        assert_eq!(got.len(), 3, "1st, 3rd and 5th");
    }

    #[test]
    fn monthly_on_the_31st_skips_months_without_one() {
        let mut r = rule(Freq::Monthly);
        r.count = Some(4);
        let start = at(datetime!(2025-01-31 08:00));
        let got: Vec<Date> = occurrences(start, start + 1, &r)
            .unwrap()
            .into_iter()
            .map(|(s, _)| local_date(s).unwrap())
            .collect();
        assert_eq!(
            got,
            [
                date!(2025 - 01 - 31),
                date!(2025 - 03 - 31),
                date!(2025 - 05 - 31),
                date!(2025 - 07 - 31)
            ]
        );
    }

    #[test]
    fn bad_rules_name_their_field() {
        let start = at(datetime!(2025-09-01 08:00));
        let check = |r: Recurrence| field(occurrences(start, start + 1, &r).unwrap_err());

        let mut r = rule(Freq::Daily);
        r.count = Some(3);
        r.interval = 0;
        assert_eq!(check(r.clone()), "recurrence.interval");
        r.interval = 13;
        assert_eq!(check(r.clone()), "recurrence.interval");
        r.interval = 1;
        r.until = Some(date!(2025 - 09 - 10));
        assert_eq!(check(r.clone()), "recurrence", "count and until both set");
        r.count = None;
        r.until = None;
        assert_eq!(check(r.clone()), "recurrence", "neither set");
        r.count = Some(201);
        assert_eq!(check(r.clone()), "recurrence.count");
        r.count = Some(0);
        assert_eq!(check(r.clone()), "recurrence.count");
        r.count = Some(2);
        r.by_weekday = vec![Weekday::Mo];
        assert_eq!(
            check(r.clone()),
            "recurrence.by_weekday",
            "days need weekly"
        );
        let mut w = rule(Freq::Weekly);
        w.count = Some(2);
        w.by_weekday = vec![Weekday::Mo, Weekday::Mo];
        assert_eq!(check(w), "recurrence.by_weekday");

        let mut d = rule(Freq::Daily);
        d.until = Some(date!(2025 - 08 - 31));
        assert_eq!(check(d.clone()), "recurrence.until", "before the start");
        d.until = Some(date!(2026 - 06 - 01));
        assert_eq!(
            check(d.clone()),
            "recurrence.until",
            "more than 200 meetings"
        );
        d.until = Some(date!(2028 - 01 - 01));
        assert_eq!(check(d), "recurrence.until", "past two years");
        let mut m = rule(Freq::Monthly);
        m.interval = 12;
        m.count = Some(5);
        assert_eq!(
            check(m),
            "recurrence.count",
            "five years of yearly meetings"
        );
    }

    #[test]
    fn rules_read_as_icalendar_spells_them() {
        let r: Recurrence = serde_json::from_str(
            r#"{"freq":"weekly","by_weekday":["mo","th"],"until":"2025-12-31"}"#,
        )
        .unwrap();
        assert_eq!(r.interval, 1);
        assert_eq!(r.by_weekday, [Weekday::Mo, Weekday::Th]);
        assert_eq!(r.until, Some(date!(2025 - 12 - 31)));
        assert_eq!(
            serde_json::to_value(&r).unwrap()["until"],
            serde_json::json!("2025-12-31")
        );
        assert!(serde_json::from_str::<Recurrence>(r#"{"freq":"yearly","count":2}"#).is_err());
    }
}
