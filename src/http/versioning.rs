//! Version negotiation for `/api/atlas/v2` by the `Accept` header (BEHAVIOR §3).
//!
//! Each operation lists its versions; a request names a date with
//! `application/vnd.atlas.YYYY-MM-DD+json` and gets the newest version at or before it. A missing
//! or non-versioned `Accept`, or a date before the first version, is 406 `INVALID_VERSION_DATE`;
//! a version past its sunset is 410 `VERSION_GONE`. Successful responses carry the resolved
//! version in `Content-Type`; a deprecated version adds `Deprecation` and `Sunset`. The legacy
//! `/api/atlas/v1.0` tree skips all this and serves the 2023-01-01 shapes as `application/json`.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use time::Date;
use time::macros::date;

use crate::clock::Clock;
use crate::error::AppError;

/// When and how a deprecated version goes away.
#[derive(Debug, PartialEq, Eq)]
pub struct Retirement {
    /// `Deprecation` header: the day the successor was released.
    pub deprecation: &'static str,
    /// `Sunset` header, in Java's RFC 1123 form (day of month not zero-padded).
    pub sunset: &'static str,
    /// From this day on the version answers 410.
    pub sunset_date: Date,
}

/// One version of one operation.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceVersion {
    pub date: &'static str,
    pub content_type: &'static str,
    pub retirement: Option<Retirement>,
}

/// Invitation and other operations deprecated in favour of the 2025-02-19 org-users API.
const RETIRED_BY_ORG_USERS: Retirement = Retirement {
    deprecation: "Wed, 19 Feb 2025 00:00:00 GMT",
    sunset: "Thu, 1 Jul 2027 00:00:00 GMT",
    sunset_date: date!(2027 - 07 - 01),
};

pub const V2023_01_01: ResourceVersion = ResourceVersion {
    date: "2023-01-01",
    content_type: "application/vnd.atlas.2023-01-01+json;charset=utf-8",
    retirement: None,
};

pub const V2024_08_05: ResourceVersion = ResourceVersion {
    date: "2024-08-05",
    content_type: "application/vnd.atlas.2024-08-05+json;charset=utf-8",
    retirement: None,
};

pub const V2025_02_19: ResourceVersion = ResourceVersion {
    date: "2025-02-19",
    content_type: "application/vnd.atlas.2025-02-19+json;charset=utf-8",
    retirement: None,
};

pub const V2023_01_01_DEPRECATED: ResourceVersion = ResourceVersion {
    date: "2023-01-01",
    content_type: "application/vnd.atlas.2023-01-01+json;charset=utf-8",
    retirement: Some(RETIRED_BY_ORG_USERS),
};

/// `addGroupUser` (`POST /groups/{groupId}/access`), deprecated with the project invitations.
pub const V2023_02_01_DEPRECATED: ResourceVersion = ResourceVersion {
    date: "2023-02-01",
    content_type: "application/vnd.atlas.2023-02-01+json;charset=utf-8",
    retirement: Some(RETIRED_BY_ORG_USERS),
};

/// The versions of the member operations (org, team and project users): the 2025-02-19 API
/// alone, the 2023-01-01 version it deprecated alone, or both.
pub const MEMBERS_CURRENT: &[ResourceVersion] = &[V2025_02_19];
pub const MEMBERS_DEPRECATED: &[ResourceVersion] = &[V2023_01_01_DEPRECATED];
pub const MEMBERS_BOTH: &[ResourceVersion] = &[V2023_01_01_DEPRECATED, V2025_02_19];

/// The version a request is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `/api/atlas/v1.0`: no negotiation, plain `application/json`.
    Legacy,
    Dated(&'static ResourceVersion),
}

impl<S: Send + Sync> FromRequestParts<S> for ApiVersion {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<ApiVersion>()
            .copied()
            .ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!(
                    "route is served outside version negotiation"
                ))
            })
    }
}

/// The date requested by the first `application/vnd.atlas.YYYY-MM-DD+json` media range.
fn requested_date(headers: &HeaderMap) -> Option<&str> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    accept.split(',').find_map(|range| {
        let media_type = range.split(';').next()?.trim();
        let lower = media_type.get(..22)?;
        if !lower.eq_ignore_ascii_case("application/vnd.atlas.") {
            return None;
        }
        let rest = &media_type[22..];
        let date = rest.get(..10)?;
        rest.get(10..)?
            .eq_ignore_ascii_case("+json")
            .then_some(date)
    })
}

fn is_calendar_date(candidate: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(candidate, &format).is_ok()
}

/// The newest version at or before the requested date.
pub fn resolve(
    versions: &'static [ResourceVersion],
    headers: &HeaderMap,
    today: Date,
) -> Result<&'static ResourceVersion, AppError> {
    let requested = requested_date(headers)
        .filter(|date| is_calendar_date(date))
        .ok_or(AppError::InvalidVersionDate)?;
    // ISO dates order as strings.
    let version = versions
        .iter()
        .rev()
        .find(|version| version.date <= requested)
        .ok_or(AppError::InvalidVersionDate)?;
    if let Some(retirement) = &version.retirement
        && today >= retirement.sunset_date
    {
        return Err(AppError::VersionGone);
    }
    Ok(version)
}

/// The versions an operation is served in.
#[derive(Debug, Clone, Copy)]
pub enum Served {
    /// Under `/api/atlas/v1.0`.
    Legacy,
    /// Under `/api/atlas/v2`, in these versions (ascending by date).
    Dated(&'static [ResourceVersion]),
}

/// Runs `handler` in the version `request` is served in, or answers 406 or 410 when none
/// fits; a successful answer names its version in `Content-Type`, and a deprecated version's
/// answer carries `Deprecation` and `Sunset`.
pub async fn serve_in<F>(
    served: Served,
    clock: &dyn Clock,
    mut request: Request,
    handler: impl FnOnce(Request) -> F,
) -> Response
where
    F: Future<Output = Response>,
{
    let versions = match served {
        Served::Legacy => {
            request.extensions_mut().insert(ApiVersion::Legacy);
            return handler(request).await;
        }
        Served::Dated(versions) => versions,
    };
    let version = match resolve(versions, request.headers(), clock.now().date()) {
        Ok(version) => version,
        Err(error) => return crate::transport::answer_early(request, error).await,
    };
    request.extensions_mut().insert(ApiVersion::Dated(version));
    let mut response = handler(request).await;
    if response.status().is_success() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(version.content_type),
        );
    }
    if let Some(retirement) = &version.retirement {
        let headers = response.headers_mut();
        headers.insert(
            "deprecation",
            HeaderValue::from_static(retirement.deprecation),
        );
        headers.insert("sunset", HeaderValue::from_static(retirement.sunset));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    static ONE: [ResourceVersion; 1] = [V2023_01_01_DEPRECATED];
    static TWO: [ResourceVersion; 2] = [
        V2023_01_01,
        ResourceVersion {
            date: "2025-02-19",
            content_type: "application/vnd.atlas.2025-02-19+json;charset=utf-8",
            retirement: None,
        },
    ];
    const TODAY: Date = date!(2026 - 11 - 22);

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn a_later_date_resolves_to_the_newest_earlier_version() {
        let version = resolve(
            &ONE,
            &accept("application/vnd.atlas.2025-03-12+json"),
            TODAY,
        )
        .expect("resolves");
        assert_eq!(version.date, "2023-01-01");
        let version = resolve(
            &TWO,
            &accept("application/vnd.atlas.2024-12-31+json"),
            TODAY,
        )
        .expect("resolves");
        assert_eq!(version.date, "2023-01-01");
        let version = resolve(
            &TWO,
            &accept("application/vnd.atlas.2099-01-01+json"),
            TODAY,
        )
        .expect("resolves");
        assert_eq!(version.date, "2025-02-19");
    }

    #[test]
    fn missing_plain_early_or_impossible_dates_are_not_acceptable() {
        for value in [
            "application/json",
            "*/*",
            "application/vnd.atlas.2022-12-31+json",
            "application/vnd.atlas.2023-02-30+json",
            "application/vnd.atlas.preview+json",
            "application/vnd.atlas.2023-01-01+xml",
        ] {
            assert!(
                matches!(
                    resolve(&ONE, &accept(value), TODAY),
                    Err(AppError::InvalidVersionDate)
                ),
                "{value}"
            );
        }
        assert!(matches!(
            resolve(&ONE, &HeaderMap::new(), TODAY),
            Err(AppError::InvalidVersionDate)
        ));
    }

    #[test]
    fn parameters_case_and_lists_are_tolerated() {
        let value = "application/json, Application/VND.ATLAS.2023-01-01+JSON; charset=utf-8";
        assert!(resolve(&ONE, &accept(value), TODAY).is_ok());
    }

    #[test]
    fn a_sunset_version_is_gone() {
        let result = resolve(
            &ONE,
            &accept("application/vnd.atlas.2023-01-01+json"),
            date!(2027 - 07 - 01),
        );
        assert!(matches!(result, Err(AppError::VersionGone)));
    }

    proptest::proptest! {
        #[test]
        fn any_accept_header_resolves_or_is_not_acceptable(value in "\\PC{0,80}") {
            if let Ok(header) = HeaderValue::from_str(&value) {
                let mut headers = HeaderMap::new();
                headers.insert(header::ACCEPT, header);
                let result = resolve(&TWO, &headers, TODAY);
                proptest::prop_assert!(matches!(result, Ok(_) | Err(AppError::InvalidVersionDate)));
            }
        }

        #[test]
        fn a_requested_date_resolves_to_the_newest_version_on_or_before_it(
            (date, valid) in requested_date(),
            (media_type, well_formed) in media_type(),
        ) {
            let value = media_type.replace("{date}", &date);
            let result = resolve(&TWO, &accept(&value), TODAY).map(|version| version.date);
            // TWO's versions, written out: before 2023-01-01 nothing, then 2023-01-01 until
            // 2025-02-18, then 2025-02-19. ISO dates of four-digit years order as strings.
            let expected = if !(valid && well_formed) || date.as_str() < "2023-01-01" {
                None
            } else if date.as_str() < "2025-02-19" {
                Some("2023-01-01")
            } else {
                Some("2025-02-19")
            };
            match expected {
                Some(expected) => proptest::prop_assert_eq!(result.ok(), Some(expected), "{}", value),
                None => proptest::prop_assert!(
                    matches!(result, Err(AppError::InvalidVersionDate)),
                    "{} gave {:?}", value, result.map_err(|error| format!("{error:?}"))
                ),
            }
        }
    }

    /// Days in a month by the Gregorian rule, written out rather than asked of `time`.
    fn days_in_month(year: i32, month: u32) -> u32 {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// A `YYYY-MM-DD` string and whether it is a real date: mostly days next to the two version
    /// dates, some anywhere, and impossible ones (day 29 to 32 of a short month, month 0 or 13).
    fn requested_date() -> impl proptest::strategy::Strategy<Value = (String, bool)> {
        use proptest::prelude::*;
        let near = |year: i32, month: u32, day: u32| {
            (-3i32..=3).prop_map(move |offset| {
                // Walk `offset` days from the boundary by the calendar, not by `time`.
                let (mut y, mut m, mut d) = (year, month, i64::from(day) + i64::from(offset));
                while d < 1 {
                    (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
                    d += i64::from(days_in_month(y, m));
                }
                while d > i64::from(days_in_month(y, m)) {
                    d -= i64::from(days_in_month(y, m));
                    (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                }
                (format!("{y:04}-{m:02}-{d:02}"), true)
            })
        };
        prop_oneof![
            3 => near(2023, 1, 1),
            3 => near(2025, 2, 19),
            2 => (2000i32..2100, 1u32..=12, 1u32..=31).prop_map(|(y, m, d)| {
                (format!("{y:04}-{m:02}-{d:02}"), d <= days_in_month(y, m))
            }),
            1 => (2000i32..2100, prop_oneof![Just(0u32), Just(13u32)], 1u32..=28)
                .prop_map(|(y, m, d)| (format!("{y:04}-{m:02}-{d:02}"), false)),
            1 => (2000i32..2100, 1u32..=12, prop_oneof![Just(0u32), Just(32u32)])
                .prop_map(|(y, m, d)| (format!("{y:04}-{m:02}-{d:02}"), false)),
        ]
    }

    /// An `Accept` value with `{date}` where the date goes, and whether it names a dated
    /// version: Atlas's media type in any letter case, with or without parameters or other
    /// ranges before it, or a near miss (other suffix, `+json` missing, wrong vendor).
    fn media_type() -> impl proptest::strategy::Strategy<Value = (String, bool)> {
        use proptest::prelude::*;
        let any_case = |text: &'static str| {
            proptest::collection::vec(any::<bool>(), text.len()).prop_map(move |upper| {
                text.chars()
                    .zip(upper)
                    .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
                    .collect::<String>()
            })
        };
        let before = proptest::sample::select(vec!["", "application/json, ", "*/*;q=0.1,"]);
        let after =
            proptest::sample::select(vec!["", ";charset=utf-8", "; charset=UTF-8", ", */*"]);
        prop_oneof![
            3 => (before.clone(), any_case("application/vnd.atlas."), any_case("+json"), after)
                .prop_map(|(before, prefix, suffix, after)| (format!("{before}{prefix}{{date}}{suffix}{after}"), true)),
            2 => (before, proptest::sample::select(vec![
                "application/vnd.atlas.{date}+xml",
                "application/vnd.atlas.{date}",
                "application/vnd.atlas.{date}json",
                "application/vnd.atlas.{date}+jsonx",
                "application/vnd.atlass.{date}+json",
                "application/atlas.{date}+json",
                "application/vnd.atlas.{date} +json",
            ]))
                .prop_map(|(before, near)| (format!("{before}{near}"), false)),
        ]
    }

    #[test]
    fn retirement_headers_match_their_dates() {
        let format = time::macros::format_description!(
            "[weekday repr:short], [day padding:none] [month repr:short] [year] 00:00:00 GMT"
        );
        let retirement = RETIRED_BY_ORG_USERS;
        assert_eq!(
            retirement.sunset_date.format(&format).expect("formats"),
            retirement.sunset
        );
        assert_eq!(
            date!(2025 - 02 - 19).format(&format).expect("formats"),
            retirement.deprecation
        );
        for version in [
            V2023_01_01,
            V2023_01_01_DEPRECATED,
            V2023_02_01_DEPRECATED,
            V2024_08_05,
        ] {
            assert_eq!(
                version.content_type,
                format!("application/vnd.atlas.{}+json;charset=utf-8", version.date)
            );
        }
    }
}
