//! SQL LIKE, and the literal prefix of a pattern that bounds a key scan.

/// SQL LIKE with `%`, `_` and `\` as the escape character.
pub fn like(value: &str, pattern: &str) -> bool {
    let v: Vec<char> = value.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Iterative matcher with backtracking to the last '%'.
    let (mut vi, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() {
            match p[pi] {
                '%' => {
                    star = Some((pi, vi));
                    pi += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == v[vi] => {
                    pi += 2;
                    vi += 1;
                    continue;
                }
                '_' => {
                    pi += 1;
                    vi += 1;
                    continue;
                }
                c if c != '\\' && c == v[vi] => {
                    pi += 1;
                    vi += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sv)) => {
                pi = sp + 1;
                vi = sv + 1;
                star = Some((sp, sv + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '%')
}

/// The literal prefix of a LIKE pattern (before its first wildcard), and
/// whether the pattern is exactly that prefix followed by `%`.
pub fn like_prefix(pattern: &str) -> (String, bool) {
    let mut prefix = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' | '_' => {
                let rest: String = std::iter::once(c).chain(chars).collect();
                return (prefix, rest == "%");
            }
            '\\' => match chars.next() {
                Some(n) => prefix.push(n),
                None => return (prefix, false),
            },
            c => prefix.push(c),
        }
    }
    (prefix, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_like_postgres() {
        assert!(like("photos/2024/a.jpg", "photos/%"));
        assert!(like("abc", "a_c"));
        assert!(like("abc", "%"));
        assert!(!like("abc", "a_"));
        assert!(like("a%c", "a\\%c"));
        assert!(!like("abc", "a\\%c"));
        assert!(like("aXbXc", "%b%c"));
        assert!(!like("", "_"));
    }

    #[test]
    fn like_prefix_extraction() {
        assert_eq!(like_prefix("photos/%"), ("photos/".into(), true));
        assert_eq!(like_prefix("a_b%"), ("a".into(), false));
        assert_eq!(like_prefix("50\\%%"), ("50%".into(), true));
        assert_eq!(like_prefix("exact"), ("exact".into(), false));
    }
}
