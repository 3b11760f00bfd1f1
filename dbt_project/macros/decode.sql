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

{#- Dates decode with the warehouse's util functions (plugins/equity/sql/bootstrap.sql), the same
    definitions the loader's row checks use. -#}
{% macro iso_date(col) -%} util.iso_date({{ col }}) {%- endmacro %}

{% macro be_date_dmy(col) -%} util.be_dmy_date({{ col }}) {%- endmacro %}

{% macro be_date_ymd(col) -%} util.be_ymd_date({{ col }}) {%- endmacro %}
