{#- Layer schemas are named exactly (staging, intermediate, marts), not prefixed by the target's. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
