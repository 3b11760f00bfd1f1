-- One row per person ever on a roll up to as_of_date: on a roll now, the counting ENROLLED record,
-- and the latest record ever seen (docs/rules.md, "Enrolment history").
with history as (
    select * from {{ ref('int_enrolment__history') }}
),

latest_snapshot as (
    select max(snapshot_date) as snapshot_date from history
),

enrolled_now as (
    select h.*
    from history as h
    inner join latest_snapshot as l on l.snapshot_date = h.snapshot_date
    where h.status = 'ENROLLED'
),

counting_record as (
    select distinct on (person_id)
        person_id,
        count(*) over (partition by person_id) as enrolled_rolls,
        school_code, affiliation, grade, status, status_date, days_absent, disability,
        sex, birth_date, home_subdistrict_code, school_subdistrict_code
    from enrolled_now
    order by person_id, status_date desc nulls last, school_code desc
),

last_seen as (
    select person_id, max(snapshot_date) as snapshot_date
    from history
    group by person_id
),

latest_record as (
    select distinct on (h.person_id)
        h.person_id, h.school_code, h.affiliation, h.grade, h.status, h.status_date, h.disability,
        h.sex, h.birth_date, h.home_subdistrict_code, h.school_subdistrict_code, h.id_type
    from history as h
    inner join last_seen as s on s.person_id = h.person_id and s.snapshot_date = h.snapshot_date
    order by h.person_id, h.status_date desc nulls last, h.school_code desc
),

final as (
    select
        l.person_id,
        l.id_type,
        c.person_id is not null as on_roll_now,
        coalesce(c.enrolled_rolls > 1, false) as multiple_enrolment,
        -- the counting record when enrolled, else the latest record ever seen
        coalesce(c.school_code, l.school_code) as school_code,
        coalesce(c.affiliation, l.affiliation) as affiliation,
        coalesce(c.grade, l.grade) as grade,
        coalesce(c.disability, l.disability) as disability,
        c.days_absent,
        coalesce(c.sex, l.sex) as sex,
        coalesce(c.birth_date, l.birth_date) as birth_date,
        coalesce(c.home_subdistrict_code, l.home_subdistrict_code) as home_subdistrict_code,
        coalesce(c.school_subdistrict_code, l.school_subdistrict_code) as school_subdistrict_code,
        l.status as latest_status,
        l.status_date as latest_status_date,
        l.grade as latest_grade
    from latest_record as l
    left join counting_record as c on c.person_id = l.person_id
)

select * from final
