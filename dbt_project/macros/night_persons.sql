{#- The rows of `relation` whose person_id is one of int_children__changed's (the night's persons), as
    a subquery for a FROM list (the caller names it). `condition`: SQL on the relation's row (alias r)
    that the rows must meet. `latest_by`: an ORDER BY list (on r) to keep only each person's first row
    by it; none keeps every row.

    On an ordinary night (children_plan: `changes`) the persons are a few percent of the relation's,
    and their rows are read by the relation's person_id index, one probe per person: a lateral
    subquery, which the planner cannot turn into the hash semi-join it picks for `person_id in (...)`
    (a scan of the whole table, 2-3 s for each of these tables at national size). Each person's latest
    row is the probe's first by `latest_by` (limit 1): one row per person, which the planner counts
    right, where a `distinct on` over the probes is estimated at one row and everything after it is
    joined by nested loops. Without `latest_by`, `offset 0` keeps the subquery from being pulled up
    into a join. On a night that classifies everyone the persons are the relation's own: a hashed
    semi-join, and `distinct on` for the latest. -#}
{% macro night_persons_rows(relation, condition='true', latest_by=none) -%}
    {%- if children_plan(announce=false).mode == 'changes' -%}
    (select r.* from {{ ref('int_children__changed') }} as night_person
     cross join lateral (select * from {{ relation }} as r
                         where r.person_id = night_person.person_id and ({{ condition }})
                         {% if latest_by %}order by {{ latest_by }} limit 1{% else %}offset 0{% endif %}) as r)
    {%- else -%}
    (select {% if latest_by %}distinct on (r.person_id) {% endif %}* from {{ relation }} as r
     where r.person_id in (select person_id from {{ ref('int_children__changed') }}) and ({{ condition }})
     {%- if latest_by %} order by r.person_id, {{ latest_by }}{% endif %})
    {%- endif -%}
{%- endmacro %}
