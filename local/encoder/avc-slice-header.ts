import { BitstreamError, RbspReader, SliceHeaderParser } from './rbsp-reader';

/**
 * The size of an H.264 slice header (ITU-T H.264 7.3.3), which 'cbcs' leaves in the clear: CMAF
 * and ISO/IEC 23001-7 put the first protected byte of a video NAL unit on the first byte of slice
 * data after the slice header, as shaka-packager does. Reading it needs the sequence and picture
 * parameter sets, from the avcC record and from any in the samples.
 */

interface AvcSps {
  readonly chromaArrayType: number;
  readonly separateColourPlane: boolean;
  readonly log2MaxFrameNum: number;
  readonly picOrderCntType: number;
  readonly log2MaxPicOrderCntLsb: number;
  readonly deltaPicOrderAlwaysZero: boolean;
  readonly frameMbsOnly: boolean;
  readonly picSizeInMapUnits: number;
}

interface AvcPps {
  readonly spsId: number;
  readonly entropyCodingMode: boolean;
  readonly bottomFieldPicOrderInFramePresent: boolean;
  readonly sliceGroupCount: number;
  readonly sliceGroupMapType: number;
  readonly sliceGroupChangeRate: number;
  readonly numRefIdxL0Default: number;
  readonly numRefIdxL1Default: number;
  readonly weightedPred: boolean;
  readonly weightedBipredIdc: number;
  readonly deblockingFilterControlPresent: boolean;
  readonly redundantPicCntPresent: boolean;
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);
const NAL_SLICE = 1;
const NAL_IDR_SLICE = 5;
const NAL_SPS = 7;
const NAL_PPS = 8;
const SLICE_P = 0;
const SLICE_B = 1;
const SLICE_I = 2;
const SLICE_SP = 3;
const SLICE_SI = 4;

function skipScalingList(reader: RbspReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) {
      next = (last + reader.se() + 256) % 256;
    }
    last = next === 0 ? last : next;
  }
}

function parseSps(reader: RbspReader): { id: number; sps: AvcSps } {
  const profileIdc = reader.bits(8);
  reader.skipBits(16); // constraint flags, level_idc
  const id = reader.ue();
  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = reader.ue();
    if (chromaFormatIdc === 3) {
      separateColourPlane = reader.flag();
    }
    reader.ue(); // bit_depth_luma_minus8
    reader.ue(); // bit_depth_chroma_minus8
    reader.bit(); // qpprime_y_zero_transform_bypass_flag
    if (reader.flag()) {
      for (let i = 0; i < (chromaFormatIdc === 3 ? 12 : 8); i++) {
        if (reader.flag()) {
          skipScalingList(reader, i < 6 ? 16 : 64);
        }
      }
    }
  }
  const log2MaxFrameNum = reader.ue() + 4;
  const picOrderCntType = reader.ue();
  let log2MaxPicOrderCntLsb = 0;
  let deltaPicOrderAlwaysZero = false;
  if (picOrderCntType === 0) {
    log2MaxPicOrderCntLsb = reader.ue() + 4;
  } else if (picOrderCntType === 1) {
    deltaPicOrderAlwaysZero = reader.flag();
    reader.se(); // offset_for_non_ref_pic
    reader.se(); // offset_for_top_to_bottom_field
    const cycle = reader.ue();
    for (let i = 0; i < cycle; i++) {
      reader.se();
    }
  }
  reader.ue(); // max_num_ref_frames
  reader.bit(); // gaps_in_frame_num_value_allowed_flag
  const widthInMbs = reader.ue() + 1;
  const heightInMapUnits = reader.ue() + 1;
  const frameMbsOnly = reader.flag();
  return {
    id,
    sps: {
      chromaArrayType: separateColourPlane ? 0 : chromaFormatIdc,
      separateColourPlane,
      log2MaxFrameNum,
      picOrderCntType,
      log2MaxPicOrderCntLsb,
      deltaPicOrderAlwaysZero,
      frameMbsOnly,
      picSizeInMapUnits: widthInMbs * heightInMapUnits,
    },
  };
}

function parsePps(reader: RbspReader): { id: number; pps: AvcPps } {
  const id = reader.ue();
  const spsId = reader.ue();
  const entropyCodingMode = reader.flag();
  const bottomFieldPicOrderInFramePresent = reader.flag();
  const sliceGroupCount = reader.ue() + 1;
  let sliceGroupMapType = 0;
  let sliceGroupChangeRate = 1;
  if (sliceGroupCount > 1) {
    sliceGroupMapType = reader.ue();
    if (sliceGroupMapType === 0) {
      for (let i = 0; i < sliceGroupCount; i++) {
        reader.ue();
      }
    } else if (sliceGroupMapType === 2) {
      for (let i = 0; i < sliceGroupCount - 1; i++) {
        reader.ue();
        reader.ue();
      }
    } else if (sliceGroupMapType >= 3 && sliceGroupMapType <= 5) {
      reader.bit();
      sliceGroupChangeRate = reader.ue() + 1;
    } else if (sliceGroupMapType === 6) {
      const picSizeInMapUnits = reader.ue() + 1;
      const idBits = Math.ceil(Math.log2(sliceGroupCount));
      reader.skipBits(picSizeInMapUnits * idBits);
    }
  }
  const numRefIdxL0Default = reader.ue() + 1;
  const numRefIdxL1Default = reader.ue() + 1;
  const weightedPred = reader.flag();
  const weightedBipredIdc = reader.bits(2);
  reader.se(); // pic_init_qp_minus26
  reader.se(); // pic_init_qs_minus26
  reader.se(); // chroma_qp_index_offset
  const deblockingFilterControlPresent = reader.flag();
  reader.bit(); // constrained_intra_pred_flag
  const redundantPicCntPresent = reader.flag();
  return {
    id,
    pps: {
      spsId,
      entropyCodingMode,
      bottomFieldPicOrderInFramePresent,
      sliceGroupCount,
      sliceGroupMapType,
      sliceGroupChangeRate,
      numRefIdxL0Default,
      numRefIdxL1Default,
      weightedPred,
      weightedBipredIdc,
      deblockingFilterControlPresent,
      redundantPicCntPresent,
    },
  };
}

function skipRefPicListModification(reader: RbspReader): void {
  if (!reader.flag()) {
    return;
  }
  for (let idc = reader.ue(); idc !== 3; idc = reader.ue()) {
    if (idc > 5) {
      throw new BitstreamError(`modification_of_pic_nums_idc ${idc} is out of range`);
    }
    reader.ue();
  }
}

function skipPredWeightTable(reader: RbspReader, chromaArrayType: number, listSizes: readonly number[]): void {
  reader.ue(); // luma_log2_weight_denom
  if (chromaArrayType !== 0) {
    reader.ue(); // chroma_log2_weight_denom
  }
  for (const size of listSizes) {
    for (let i = 0; i < size; i++) {
      if (reader.flag()) {
        reader.se();
        reader.se();
      }
      if (chromaArrayType !== 0 && reader.flag()) {
        for (let j = 0; j < 4; j++) {
          reader.se();
        }
      }
    }
  }
}

function skipDecRefPicMarking(reader: RbspReader, idr: boolean): void {
  if (idr) {
    reader.skipBits(2); // no_output_of_prior_pics_flag, long_term_reference_flag
    return;
  }
  if (!reader.flag()) {
    return;
  }
  for (let operation = reader.ue(); operation !== 0; operation = reader.ue()) {
    if (operation > 6) {
      throw new BitstreamError(`memory_management_control_operation ${operation} is out of range`);
    }
    if (operation === 1 || operation === 3) {
      reader.ue();
    }
    if (operation === 2) {
      reader.ue();
    }
    if (operation === 3 || operation === 6) {
      reader.ue();
    }
    if (operation === 4) {
      reader.ue();
    }
  }
}

export class AvcSliceHeaderParser implements SliceHeaderParser {
  private readonly spsById = new Map<number, AvcSps>();
  private readonly ppsById = new Map<number, AvcPps>();

  /** `parameterSets`: the SPS and PPS NAL units of the avcC record. */
  constructor(parameterSets: readonly Buffer[]) {
    for (const nal of parameterSets) {
      this.clearLeaderBytes(nal);
    }
  }

  clearLeaderBytes(nal: Buffer): number | undefined {
    if (nal.length < 1) {
      throw new BitstreamError('an empty NAL unit');
    }
    const nalRefIdc = (nal[0] >> 5) & 3;
    const type = nal[0] & 0x1f;
    const reader = new RbspReader(nal, 1, nal.length);
    switch (type) {
      case NAL_SPS: {
        const { id, sps } = parseSps(reader);
        this.spsById.set(id, sps);
        return undefined;
      }
      case NAL_PPS: {
        const { id, pps } = parsePps(reader);
        this.ppsById.set(id, pps);
        return undefined;
      }
      case NAL_SLICE:
      case NAL_IDR_SLICE:
        this.skipSliceHeader(reader, type === NAL_IDR_SLICE, nalRefIdc);
        return 1 + reader.rawBytesConsumed();
      case 2:
      case 3:
      case 4:
        throw new BitstreamError(`data-partitioned slices (NAL unit type ${type}) are not supported`);
      default:
        return undefined;
    }
  }

  private skipSliceHeader(reader: RbspReader, idr: boolean, nalRefIdc: number): void {
    reader.ue(); // first_mb_in_slice
    const sliceType = reader.ue() % 5;
    const ppsId = reader.ue();
    const pps = this.ppsById.get(ppsId);
    if (!pps) {
      throw new BitstreamError(`a slice refers to picture parameter set ${ppsId}, which neither the avcC record nor the sample carries`);
    }
    const sps = this.spsById.get(pps.spsId);
    if (!sps) {
      throw new BitstreamError(`picture parameter set ${ppsId} refers to sequence parameter set ${pps.spsId}, which neither the avcC record nor the sample carries`);
    }
    if (sps.separateColourPlane) {
      reader.skipBits(2); // colour_plane_id
    }
    reader.skipBits(sps.log2MaxFrameNum); // frame_num
    let fieldPic = false;
    if (!sps.frameMbsOnly) {
      fieldPic = reader.flag();
      if (fieldPic) {
        reader.bit(); // bottom_field_flag
      }
    }
    if (idr) {
      reader.ue(); // idr_pic_id
    }
    if (sps.picOrderCntType === 0) {
      reader.skipBits(sps.log2MaxPicOrderCntLsb);
      if (pps.bottomFieldPicOrderInFramePresent && !fieldPic) {
        reader.se();
      }
    }
    if (sps.picOrderCntType === 1 && !sps.deltaPicOrderAlwaysZero) {
      reader.se();
      if (pps.bottomFieldPicOrderInFramePresent && !fieldPic) {
        reader.se();
      }
    }
    if (pps.redundantPicCntPresent) {
      reader.ue();
    }
    if (sliceType === SLICE_B) {
      reader.bit(); // direct_spatial_mv_pred_flag
    }
    let numRefIdxL0 = pps.numRefIdxL0Default;
    let numRefIdxL1 = pps.numRefIdxL1Default;
    if (sliceType === SLICE_P || sliceType === SLICE_SP || sliceType === SLICE_B) {
      if (reader.flag()) {
        numRefIdxL0 = reader.ue() + 1;
        if (sliceType === SLICE_B) {
          numRefIdxL1 = reader.ue() + 1;
        }
      }
    }
    if (sliceType !== SLICE_I && sliceType !== SLICE_SI) {
      skipRefPicListModification(reader);
      if (sliceType === SLICE_B) {
        skipRefPicListModification(reader);
      }
    }
    if ((pps.weightedPred && (sliceType === SLICE_P || sliceType === SLICE_SP)) || (pps.weightedBipredIdc === 1 && sliceType === SLICE_B)) {
      skipPredWeightTable(reader, sps.chromaArrayType, sliceType === SLICE_B ? [numRefIdxL0, numRefIdxL1] : [numRefIdxL0]);
    }
    if (nalRefIdc !== 0) {
      skipDecRefPicMarking(reader, idr);
    }
    if (pps.entropyCodingMode && sliceType !== SLICE_I && sliceType !== SLICE_SI) {
      reader.ue(); // cabac_init_idc
    }
    reader.se(); // slice_qp_delta
    if (sliceType === SLICE_SP || sliceType === SLICE_SI) {
      if (sliceType === SLICE_SP) {
        reader.bit(); // sp_for_switch_flag
      }
      reader.se(); // slice_qs_delta
    }
    if (pps.deblockingFilterControlPresent) {
      if (reader.ue() !== 1) {
        reader.se();
        reader.se();
      }
    }
    if (pps.sliceGroupCount > 1 && pps.sliceGroupMapType >= 3 && pps.sliceGroupMapType <= 5) {
      reader.skipBits(Math.ceil(Math.log2(sps.picSizeInMapUnits / pps.sliceGroupChangeRate + 1)));
    }
    // CABAC slice data opens with cabac_alignment_one_bit up to a byte boundary: a header misread
    // by even one bit shows here instead of as a protected range that starts inside the header.
    while (pps.entropyCodingMode && !reader.isByteAligned()) {
      if (reader.bit() !== 1) {
        throw new BitstreamError('the slice header is not followed by cabac_alignment_one_bit; it was misread');
      }
    }
  }
}
