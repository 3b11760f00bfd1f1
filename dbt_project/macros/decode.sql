{#- Decoding helpers for staging: every raw value is text; a value that does not decode is null
    (the GX gate has already judged the batch; a null here never breaks the build). -#}

{% macro as_int(col) -%}
    case when {{ col }} ~ '^\s*-?[0-9]{1,9}\s*$' then trim({{ col }})::int end
{%- endmacro %}

{% macro as_numeric(col) -%}
    case when {{ col }} ~ '^\s*-?[0-9]+(\.[0-9]+)?\s*$' then trim({{ col }})::numeric(14, 2) end
{%- endmacro %}

{% macro as_bool(col) -%}
    case lower(trim({{ col }})) when 'true' then true when 'false' then false end
{%- endmacro %}

{#- A date from year, month, day integers when it exists in the calendar, else null. -#}
{% macro safe_make_date(y, m, d) -%}
    case when {{ m }} between 1 and 12 and {{ d }} >= 1
          and {{ d }} <= extract(day from (make_date({{ y }}, {{ m }}, 1) + interval '1 month - 1 day'))
         then make_date({{ y }}, {{ m }}, {{ d }}) end
{%- endmacro %}

{% macro iso_date(col) -%}
    case when {{ col }} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then
        {{ safe_make_date('substr(' ~ col ~ ', 1, 4)::int', 'substr(' ~ col ~ ', 6, 2)::int', 'substr(' ~ col ~ ', 9, 2)::int') }}
    end
{%- endmacro %}

{#- Buddhist-Era dd/mm/yyyy (enrolment birth_date). -#}
{% macro be_date_dmy(col) -%}
    case when {{ col }} ~ '^[0-9]{2}/[0-9]{2}/[0-9]{4}$' then
        {{ safe_make_date('substr(' ~ col ~ ', 7, 4)::int - 543', 'substr(' ~ col ~ ', 4, 2)::int', 'substr(' ~ col ~ ', 1, 2)::int') }}
    end
{%- endmacro %}

{#- Buddhist-Era YYYYMMDD (registry). MARTS.md, "Birth date": an unknown month (00) is taken as
    1 July, an unknown day (month known) as the 15th. -#}
{% macro be_date_ymd(col) -%}
    case
        when {{ col }} ~ '^[0-9]{4}00[0-9]{2}$' then make_date(substr({{ col }}, 1, 4)::int - 543, 7, 1)
        when {{ col }} ~ '^[0-9]{6}00$' then
            {{ safe_make_date('substr(' ~ col ~ ', 1, 4)::int - 543', 'substr(' ~ col ~ ', 5, 2)::int', '15') }}
        when {{ col }} ~ '^[0-9]{8}$' then
            {{ safe_make_date('substr(' ~ col ~ ', 1, 4)::int - 543', 'substr(' ~ col ~ ', 5, 2)::int',
                              'substr(' ~ col ~ ', 7, 2)::int') }}
    end
{%- endmacro %}
