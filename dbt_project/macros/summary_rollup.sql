{#- Sum the LAO-level counts of municipality_equity_summary for one as_of_date, grouped by the given
    columns, and recompute the rates from the sums (rates never average). Used by the province and
    national roll-ups so the three levels reconcile by construction. -#}
{% macro summary_rollup(group_columns) -%}
{% set count_columns = [
    'children', 'children_school_age', 'enrolled', 'out_of_school', 'no_education_record',
    'dropped_out', 'not_continued', 'lost_in_transfer', 'never_enrolled', 'preprimary_enrolled',
    'screened', 'poor', 'extremely_poor', 'with_disability', 'chronic_absence', 'priority_children'] %}
    select
        {% for col in group_columns %}{{ col }}::text as {{ col }},
        {% endfor -%}
        {{ as_of_date() }} as as_of_date,
        count(*)::int as laos,
        count(*) filter (where children > 0)::int as laos_with_children,
        {% for col in count_columns %}sum({{ col }})::bigint as {{ col }},
        {% endfor -%}
        (sum(out_of_school)::numeric / nullif(sum(children_school_age), 0))::numeric as out_of_school_rate,
        ((sum(poor) + sum(extremely_poor))::numeric / nullif(sum(screened), 0))::numeric as poverty_rate
    from {{ ref('municipality_equity_summary') }}
    where as_of_date = {{ as_of_date() }}
    {% if group_columns %}group by {{ group_columns | join(', ') }}{% endif %}
{%- endmacro %}
