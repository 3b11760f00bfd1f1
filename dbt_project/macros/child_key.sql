{#- child_key = hex(HMAC-SHA256(key, person_id)), computed in the database.

    The key reaches the session as the custom setting `equity.hmac_key` (PGOPTIONS, set by
    equity.transform from EQUITY_HMAC_KEY), so it never appears in compiled SQL, dbt artifacts or
    logs. HMAC is built from the core sha256() because pgcrypto is not always installed: the
    inner and outer padded keys are computed once per query (hmac_pads CTE), then two sha256 calls
    per row. -#}

{% macro hmac_pads_cte() -%}
    hmac_key as (
        select case when octet_length(k) > 64 then sha256(k) else k end as k
        from (select convert_to(current_setting('equity.hmac_key'), 'UTF8') as k) as s
    ),
    hmac_pads as (
        select
            decode(string_agg(lpad(to_hex(get_byte(kp, i) # 54), 2, '0'), '' order by i), 'hex') as ipad,
            decode(string_agg(lpad(to_hex(get_byte(kp, i) # 92), 2, '0'), '' order by i), 'hex') as opad
        from (select k || decode(repeat('00', 64 - octet_length(k)), 'hex') as kp from hmac_key) as padded
        cross join generate_series(0, 63) as i
    )
{%- endmacro %}

{% macro child_key(id_col) -%}
    encode(sha256(hmac_pads.opad || sha256(hmac_pads.ipad || convert_to({{ id_col }}, 'UTF8'))), 'hex')
{%- endmacro %}
