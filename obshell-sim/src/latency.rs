//! `--latency DURATION[,JITTER]`: a delay before every obshell answer (never a `/sim/v1` one),
//! so benchmarks see a network and tests can let time pass between requests.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha20Rng;

/// How long each obshell answer is delayed: `base` plus or minus up to `jitter`, uniformly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// The mean delay.
    pub base: Duration,
    /// The largest deviation from `base` either way (the delay never goes below zero).
    pub jitter: Duration,
}

impl Latency {
    /// No delay at all (the default).
    pub const NONE: Latency = Latency {
        base: Duration::ZERO,
        jitter: Duration::ZERO,
    };

    /// `base` with `jitter`.
    pub fn new(base: Duration, jitter: Duration) -> Self {
        Self { base, jitter }
    }

    /// True when answers are not delayed.
    pub fn is_none(&self) -> bool {
        self.base.is_zero() && self.jitter.is_zero()
    }

    /// One delay, drawn from `rng` (the simulator's seeded latency generator).
    pub(crate) fn sample(&self, rng: &mut ChaCha20Rng) -> Duration {
        if self.jitter.is_zero() {
            return self.base;
        }
        let jitter = self.jitter.as_micros() as i128;
        let offset = rng.gen_range(-jitter..=jitter);
        let micros = (self.base.as_micros() as i128 + offset).max(0);
        Duration::from_micros(micros as u64)
    }
}

/// `N ms`, or `N us` when not a whole number of milliseconds.
fn write_delay(f: &mut fmt::Formatter<'_>, delay: Duration) -> fmt::Result {
    let micros = delay.as_micros();
    if micros.is_multiple_of(1000) {
        write!(f, "{}ms", micros / 1000)
    } else {
        write!(f, "{micros}us")
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_delay(f, self.base)?;
        if !self.jitter.is_zero() {
            f.write_str(",")?;
            write_delay(f, self.jitter)?;
        }
        Ok(())
    }
}

/// Why a `--latency` value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LatencyParseError(String);

/// Parses `<integer><us|ms|s>`, the units a network delay is given in.
fn parse_delay(text: &str, whole: &str) -> Result<Duration, LatencyParseError> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let value: u64 = number.parse().map_err(|_| {
        LatencyParseError(format!(
            "latency {whole:?}: {text:?} is not a duration such as 20ms, 500us or 1s"
        ))
    })?;
    match unit {
        "us" => Ok(Duration::from_micros(value)),
        "ms" => Ok(Duration::from_millis(value)),
        "s" => Ok(Duration::from_secs(value)),
        _ => Err(LatencyParseError(format!(
            "latency {whole:?}: unknown unit in {text:?}; use us, ms or s"
        ))),
    }
}

impl FromStr for Latency {
    type Err = LatencyParseError;

    /// `DURATION` or `DURATION,JITTER`, e.g. `20ms` or `20ms,5ms`; the jitter may not exceed the
    /// duration.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (base, jitter) = match text.split_once(',') {
            Some((base, jitter)) => (base.trim(), Some(jitter.trim())),
            None => (text.trim(), None),
        };
        let base = parse_delay(base, text)?;
        let jitter = match jitter {
            Some(jitter) => parse_delay(jitter, text)?,
            None => Duration::ZERO,
        };
        if jitter > base {
            return Err(LatencyParseError(format!(
                "latency {text:?}: the jitter may not be larger than the delay"
            )));
        }
        Ok(Self { base, jitter })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parses_delay_and_jitter() {
        assert_eq!(
            "20ms".parse::<Latency>(),
            Ok(Latency::new(Duration::from_millis(20), Duration::ZERO))
        );
        assert_eq!(
            "20ms,5ms".parse::<Latency>(),
            Ok(Latency::new(
                Duration::from_millis(20),
                Duration::from_millis(5)
            ))
        );
        assert_eq!(
            "1s, 500us".parse::<Latency>(),
            Ok(Latency::new(
                Duration::from_secs(1),
                Duration::from_micros(500)
            ))
        );
        assert_eq!("0ms".parse::<Latency>(), Ok(Latency::NONE));
        for bad in ["", "20", "20h", "fast", "20ms,", "5ms,20ms", "-1ms"] {
            assert!(bad.parse::<Latency>().is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn samples_stay_within_the_jitter_and_vary() {
        let latency = Latency::new(Duration::from_millis(20), Duration::from_millis(5));
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let samples: Vec<Duration> = (0..200).map(|_| latency.sample(&mut rng)).collect();
        assert!(samples
            .iter()
            .all(|d| *d >= Duration::from_millis(15) && *d <= Duration::from_millis(25)));
        assert!(samples.iter().any(|d| *d < Duration::from_millis(19)));
        assert!(samples.iter().any(|d| *d > Duration::from_millis(21)));
        let fixed = Latency::new(Duration::from_millis(7), Duration::ZERO);
        assert_eq!(fixed.sample(&mut rng), Duration::from_millis(7));
    }

    #[test]
    fn displays_as_given() {
        assert_eq!(
            "20ms,5ms".parse::<Latency>().unwrap().to_string(),
            "20ms,5ms"
        );
        assert_eq!("20ms".parse::<Latency>().unwrap().to_string(), "20ms");
        assert_eq!(
            "1s,500us".parse::<Latency>().unwrap().to_string(),
            "1000ms,500us"
        );
    }
}
