//! Parsing a query string into statements (sqlparser, PostgreSQL dialect),
//! with the few PostgreSQL forms sqlparser reads as another dialect's
//! rewritten first, on tokens:
//! - `CREATE USER name …` is `CREATE ROLE name … LOGIN` (LOGIN unless the
//!   statement says LOGIN or NOLOGIN itself);
//! - `ALTER USER` is `ALTER ROLE`;
//! - `GRANT a, b TO c` / `REVOKE a FROM c` (role memberships) become
//!   `GRANT ROLE a, ROLE b TO c`, which sqlparser parses;
//! - `OPERATOR(pg_catalog.=)` is the operator itself (`=`): every operator
//!   is pg_catalog's, and sqlparser does not take the qualified form
//!   before `ANY`, where pg_dump writes it.

use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::error::{SqlError, SqlResult};

/// Words that start a privilege list rather than a role list.
const PRIVILEGE_WORDS: &[Keyword] = &[
    Keyword::SELECT,
    Keyword::INSERT,
    Keyword::UPDATE,
    Keyword::DELETE,
    Keyword::TRUNCATE,
    Keyword::REFERENCES,
    Keyword::TRIGGER,
    Keyword::CREATE,
    Keyword::CONNECT,
    Keyword::TEMPORARY,
    Keyword::TEMP,
    Keyword::EXECUTE,
    Keyword::USAGE,
    Keyword::ALL,
    Keyword::ROLE,
    Keyword::ADMIN,
    Keyword::GRANT,
];

/// Parses `sql` into its statements.
pub fn parse(sql: &str) -> SqlResult<Vec<Statement>> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| SqlError::syntax(e.to_string()))?;
    Parser::new(&dialect)
        .with_tokens_with_locations(rewrite(tokens))
        .parse_statements()
        .map_err(|e| SqlError::syntax(e.to_string()))
}

fn keyword(t: &TokenWithSpan) -> Option<Keyword> {
    match &t.token {
        Token::Word(w) => Some(w.keyword),
        _ => None,
    }
}

fn is_blank(t: &TokenWithSpan) -> bool {
    matches!(t.token, Token::Whitespace(_))
}

fn word(k: &str) -> TokenWithSpan {
    TokenWithSpan::wrap(Token::make_keyword(k))
}

fn space() -> TokenWithSpan {
    TokenWithSpan::wrap(Token::Whitespace(sqlparser::tokenizer::Whitespace::Space))
}

/// Applies the rewrites to each statement of `tokens`.
fn rewrite(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let tokens = unqualified_operators(tokens);
    let mut out = Vec::with_capacity(tokens.len() + 4);
    for statement in tokens.split_inclusive(|t| t.token == Token::SemiColon) {
        out.extend(rewrite_statement(statement.to_vec()));
    }
    out
}

/// `OPERATOR ( pg_catalog . op )` → `op`.
fn unqualified_operators(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    // Most statements have no OPERATOR: they keep their tokens as they are.
    if !tokens.iter().any(|t| keyword(t) == Some(Keyword::OPERATOR)) {
        return tokens;
    }
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if keyword(&tokens[i]) != Some(Keyword::OPERATOR) {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        let next: Vec<usize> = (i..tokens.len())
            .filter(|&j| !is_blank(&tokens[j]))
            .take(6)
            .collect();
        let is = |n: usize, want: &dyn Fn(&Token) -> bool| {
            next.get(n).is_some_and(|&j| want(&tokens[j].token))
        };
        let qualified = next.len() == 6
            && is(1, &|t| *t == Token::LParen)
            && is(
                2,
                &|t| matches!(t, Token::Word(w) if w.value.eq_ignore_ascii_case("pg_catalog")),
            )
            && is(3, &|t| *t == Token::Period)
            && is(5, &|t| *t == Token::RParen);
        if qualified {
            out.push(tokens[next[4]].clone());
            i = next[5] + 1;
        } else {
            out.push(tokens[i].clone());
            i += 1;
        }
    }
    out
}

fn rewrite_statement(mut t: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let words: Vec<usize> = (0..t.len()).filter(|&i| !is_blank(&t[i])).collect();
    let kw = |n: usize| words.get(n).and_then(|&i| keyword(&t[i]));
    match (kw(0), kw(1)) {
        (Some(Keyword::CREATE), Some(Keyword::USER)) => {
            t[words[1]] = word("ROLE");
            let says_login = words
                .iter()
                .any(|&i| matches!(keyword(&t[i]), Some(Keyword::LOGIN | Keyword::NOLOGIN)));
            if !says_login {
                let end = t
                    .iter()
                    .rposition(|x| x.token == Token::SemiColon)
                    .unwrap_or(t.len());
                t.splice(end..end, [space(), word("LOGIN")]);
            }
        }
        (Some(Keyword::ALTER), Some(Keyword::USER)) => t[words[1]] = word("ROLE"),
        (Some(Keyword::GRANT | Keyword::REVOKE), Some(k)) if !PRIVILEGE_WORDS.contains(&k) => {
            // Before each name of the list, up to TO / FROM.
            let mut at = vec![words[1]];
            for w in words.windows(2).skip(1) {
                match keyword(&t[w[0]]) {
                    Some(Keyword::TO | Keyword::FROM | Keyword::ON) => break,
                    _ if t[w[0]].token == Token::Comma => at.push(w[1]),
                    _ => {}
                }
            }
            for i in at.into_iter().rev() {
                t.splice(i..i, [word("ROLE"), space()]);
            }
        }
        _ => {}
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(sql: &str) -> String {
        parse(sql)
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn postgres_role_forms_parse() {
        assert!(shown("CREATE USER app PASSWORD 'x'").starts_with("CREATE ROLE app"));
        assert!(shown("CREATE USER app PASSWORD 'x'").contains("LOGIN"));
        assert!(shown("CREATE USER app NOLOGIN").contains("NOLOGIN"));
        assert!(shown("ALTER USER app WITH PASSWORD 'y'").starts_with("ALTER ROLE app"));
        assert_eq!(
            shown("GRANT reader, writer TO app"),
            "GRANT ROLE reader, ROLE writer TO app"
        );
        assert_eq!(
            shown("REVOKE reader FROM app"),
            "REVOKE ROLE reader FROM app"
        );
        assert_eq!(
            shown("GRANT SELECT ON objects TO app; CREATE USER b"),
            "GRANT SELECT ON objects TO app; CREATE ROLE b LOGIN"
        );
        assert_eq!(
            shown("SELECT 1 FROM c WHERE c.k OPERATOR(pg_catalog.=) ANY (ARRAY['r']) AND c.n OPERATOR( pg_catalog . ~ ) 'x'"),
            "SELECT 1 FROM c WHERE c.k = ANY(ARRAY['r']) AND c.n ~ 'x'"
        );
        // Identifiers and strings are left alone.
        assert_eq!(shown("SELECT 'CREATE USER x'"), "SELECT 'CREATE USER x'");
        assert!(parse("GRANT TO").is_err());
    }
}
