//! Pareto fronts over the points of a sweep.

/// Indices of the points on the front that maximizes `better` and
/// minimizes `cost`: no other point is at least as good on both and
/// strictly better on one. Points with either value missing are left out.
pub fn front(better: &[Option<f64>], cost: &[Option<f64>]) -> Vec<usize> {
    let known: Vec<(usize, f64, f64)> = better
        .iter()
        .zip(cost)
        .enumerate()
        .filter_map(|(i, (b, c))| Some((i, (*b)?, (*c)?)))
        .collect();
    let mut on_front: Vec<usize> = known
        .iter()
        .filter(|&&(i, b, c)| {
            !known
                .iter()
                .any(|&(j, b2, c2)| j != i && b2 >= b && c2 <= c && (b2 > b || c2 < c))
        })
        .map(|&(i, _, _)| i)
        .collect();
    // Cheapest first: the order a reader walks the front in.
    on_front.sort_by(|&a, &b| {
        cost[a]
            .partial_cmp(&cost[b])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    on_front
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominated_and_missing_points_are_left_out() {
        // (accuracy, energy): 0 dominates 1; 2 is cheaper but worse; 3 ties 0
        // exactly (both stay); 4 has no energy.
        let better = [Some(0.9), Some(0.8), Some(0.7), Some(0.9), Some(0.99)];
        let cost = [Some(10.0), Some(12.0), Some(5.0), Some(10.0), None];
        assert_eq!(front(&better, &cost), vec![2, 0, 3]);
    }

    #[test]
    fn a_single_point_is_its_own_front() {
        assert_eq!(front(&[Some(0.5)], &[Some(1.0)]), vec![0]);
        assert!(front(&[None], &[Some(1.0)]).is_empty());
    }
}
