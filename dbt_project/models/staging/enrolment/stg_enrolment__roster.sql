-- One row per roster line of every loaded enrolment batch: renamed, cast, decoded. No joins.
-- (The select list is macros/enrolment_roster.sql, shared with int_enrolment__rows_to_classify.)
with source as (
    select * from {{ source('raw', 'enrolment_roster') }}
),

final as (
    select
        {{- enrolment_roster_columns() }}
    from source
)

select * from final
