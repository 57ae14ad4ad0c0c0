"""Pure geometry: ROIs, crops, camera-to-image mapping and head pose (arrays in, arrays out)."""
from .camera import camera_to_image, image_to_camera
from .crop import INPUT_SIZE, crop_faces, crop_roi, normalize
from .pose import angles_to_rotation, camera_rotation, pose_from_camera, rotation_to_angles
from .roi import box_from_landmarks, roi_from_box, roi_from_landmarks

__all__ = ["camera_to_image", "image_to_camera", "crop_faces", "crop_roi", "normalize", "INPUT_SIZE",
           "angles_to_rotation", "rotation_to_angles", "camera_rotation", "pose_from_camera",
           "roi_from_box", "roi_from_landmarks", "box_from_landmarks"]
