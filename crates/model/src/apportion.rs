//! Splitting an amount over parts so that the parts sum exactly (largest remainder).
//!
//! Rule: each part first gets its proportional share rounded toward zero; the minor units
//! still missing go one each to the parts with the largest dropped remainder; ties go to the
//! earlier part. The result is deterministic, sums to the total exactly, and no part is more
//! than one minor unit away from its exact share.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApportionError {
    #[error("cannot apportion {0} over no parts")]
    NoParts(i64),
    #[error("weight {weight} of part {index} is negative")]
    NegativeWeight { index: usize, weight: i64 },
}

/// Splits `total` over `weights` (non-negative). When every weight is zero the total is split
/// evenly. Works for negative totals too (each part keeps the total's sign).
pub fn apportion(total: i64, weights: &[i64]) -> Result<Vec<i64>, ApportionError> {
    if weights.is_empty() {
        return if total == 0 {
            Ok(Vec::new())
        } else {
            Err(ApportionError::NoParts(total))
        };
    }
    if let Some((index, &weight)) = weights.iter().enumerate().find(|(_, w)| **w < 0) {
        return Err(ApportionError::NegativeWeight { index, weight });
    }
    let sum: i128 = weights.iter().map(|&w| i128::from(w)).sum();
    let even;
    let (weights, sum): (&[i64], i128) = if sum == 0 {
        even = vec![1i64; weights.len()];
        (&even, i128::try_from(weights.len()).unwrap_or(i128::MAX))
    } else {
        (weights, sum)
    };
    let magnitude = i128::from(total).abs();
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given: i128 = 0;
    for (i, &w) in weights.iter().enumerate() {
        let product = magnitude * i128::from(w);
        let base = product / sum;
        given += base;
        parts.push(base);
        remainders.push((product % sum, i));
    }
    // At most weights.len() − 1 units are missing, so this loop is short.
    let missing = usize::try_from(magnitude - given).unwrap_or(0);
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take(missing) {
        parts[i] += 1;
    }
    let sign: i128 = if total < 0 { -1 } else { 1 };
    // Every part is at most |total|, which fits in i64.
    Ok(parts
        .into_iter()
        .map(|p| i64::try_from(p * sign).unwrap_or(0))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        let cases: &[(i64, &[i64], &[i64])] = &[
            (100, &[1, 1, 1], &[34, 33, 33]),
            (-100, &[1, 1, 1], &[-34, -33, -33]),
            (1000, &[8000, 2250], &[780, 220]),
            (1, &[1, 1], &[1, 0]),
            (0, &[5, 7], &[0, 0]),
            (7, &[0, 0, 0], &[3, 2, 2]),
            (10, &[0, 5], &[0, 10]),
            (200, &[1, 2, 2], &[40, 80, 80]),
            // remainders 0.5/0.5/0: the tie goes to the earlier part
            (2, &[1, 1, 2], &[1, 0, 1]),
        ];
        for &(total, weights, want) in cases {
            assert_eq!(
                apportion(total, weights).unwrap(),
                want,
                "{total} over {weights:?}"
            );
        }
    }

    #[test]
    fn errors() {
        assert_eq!(apportion(5, &[]), Err(ApportionError::NoParts(5)));
        assert_eq!(apportion(0, &[]), Ok(vec![]));
        assert_eq!(
            apportion(5, &[1, -1]),
            Err(ApportionError::NegativeWeight {
                index: 1,
                weight: -1
            })
        );
    }

    proptest! {
        #[test]
        fn parts_sum_exactly_and_stay_within_one_unit(
            total in -1_000_000_000_000i64..1_000_000_000_000,
            weights in proptest::collection::vec(0i64..1_000_000_000, 1..20),
        ) {
            let parts = apportion(total, &weights).unwrap();
            prop_assert_eq!(parts.len(), weights.len());
            prop_assert_eq!(parts.iter().map(|&p| i128::from(p)).sum::<i128>(), i128::from(total));
            let sum: i128 = weights.iter().map(|&w| i128::from(w)).sum();
            if sum > 0 {
                for (p, w) in parts.iter().zip(&weights) {
                    // |p × sum − total × w| < sum
                    let diff = (i128::from(*p) * sum - i128::from(total) * i128::from(*w)).abs();
                    prop_assert!(diff < sum, "part {} weight {}", p, w);
                }
            }
        }
    }
}
