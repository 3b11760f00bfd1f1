with source as (
    select * from {{ source('reference', 'subdistricts') }}
)

select
    subdistrict_code,
    subdistrict_name,
    district_code,
    district_name,
    province_code,
    province_name,
    lao_code
from source
